"""WAL damage is never silent: ingest, kill -9, cut acknowledged data off the WAL file, restart.
The loss is logged, counted on /metrics, listed by `sawmill admin damage list`, and every search
over the affected time range warns until `sawmill admin damage ack` acknowledges it (which
survives a restart)."""

import glob
import os
import subprocess
import sys

from e2e_lib import Server, check, metric_value

BATCHES = 10
LINES_PER_BATCH = 1000


def cli(binary, *args):
    proc = subprocess.run([binary] + list(args), capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def damage_warnings(answer):
    return [w for w in answer["warnings"] if w.startswith("WAL damage")]


def main(binary):
    server = Server(binary).start()
    try:
        for b in range(BATCHES):
            body = "".join("walrun b%d i%d\n" % (b, i) for i in range(LINES_PER_BATCH))
            status, _, answer = server.ingest(body, params={"service": "walrun"})
            check(status == 200, "ingest: %d %s" % (status, answer))
        server.kill9()

        logs = [p for p in glob.glob(os.path.join(server.data_dir, "wal", "*.log"))
                if os.path.getsize(p) > 0]
        check(len(logs) == 1, "expected one WAL file with data, got %s" % logs)
        victim = logs[0]
        size = os.path.getsize(victim)
        # About half of the acknowledged lines go: the WAL file is cut in the middle of synced
        # data, the way the 5,000 acknowledged lines were lost.
        with open(victim, "r+b") as f:
            f.truncate(size // 2)
        print("cut %s from %d to %d bytes" % (os.path.basename(victim), size, size // 2))

        restarted = Server(binary, data_dir=server.data_dir, port=server.port).start()
        try:
            log = restarted.read_log()
            check("WAL damage (truncated)" in log and os.path.basename(victim) in log,
                  "no log line names the truncation:\n" + log)
            metrics = restarted.metrics()
            check(metric_value(metrics, "sawmill_wal_damage_total", kind="truncated") >= 1,
                  "sawmill_wal_damage_total{kind=truncated} not counted")
            check(metric_value(metrics, "sawmill_wal_damage_bytes_total", kind="truncated")
                  >= size - size // 2, "sawmill_wal_damage_bytes_total too small")

            lines = restarted.count("service=walrun")
            check(0 < lines < BATCHES * LINES_PER_BATCH, "lines after the cut: %d" % lines)
            print("%d of %d acknowledged lines left after the cut" %
                  (lines, BATCHES * LINES_PER_BATCH))

            status, answer = restarted.search("service=walrun", limit="5")
            check(status == 200, "search: %d %s" % (status, answer))
            warnings = damage_warnings(answer)
            check(len(warnings) == 1, "expected one damage warning, got %s" % answer["warnings"])
            w = warnings[0]
            for part in ("truncated", os.path.basename(victim), "bytes at offset",
                         "sawmill admin damage ack"):
                check(part in w, "warning lacks %r: %s" % (part, w))
            print("search warns: " + w)

            # A time range the damaged file never held: no warning.
            status, answer = restarted.search("service=walrun", all_time="0",
                                              **{"from": "2001-01-01T00:00:00Z",
                                                 "to": "2001-01-02T00:00:00Z"})
            check(status == 200, "search 2001: %d %s" % (status, answer))
            check(not damage_warnings(answer),
                  "warning outside the damaged range: %s" % answer["warnings"])

            code, out, err = cli(binary, "admin", "damage", "list", "--server", restarted.url)
            check(code == 0, "damage list: exit %d %s" % (code, err))
            check("truncated" in out and "UNACKNOWLEDGED" in out and
                  os.path.basename(victim) in out, "damage list output:\n" + out)
            entry_id = out.split()[0].lstrip("#")
            print(out.strip())

            code, out, err = cli(binary, "admin", "damage", "ack", "--server", restarted.url,
                                 "999999")
            check(code == 1 and "404" in err, "ack of an unknown id: %d %s %s" % (code, out, err))
            code, out, err = cli(binary, "admin", "damage", "ack", "--server", restarted.url,
                                 entry_id)
            check(code == 0 and "acknowledged: 1" in out, "ack: %d %s %s" % (code, out, err))
            status, answer = restarted.search("service=walrun", limit="5")
            check(not damage_warnings(answer), "warning after ack: %s" % answer["warnings"])
            check(restarted.stop() == 0, "server did not exit 0 after SIGTERM")
        finally:
            restarted.cleanup()

        again = Server(binary, data_dir=server.data_dir, port=server.port).start()
        try:
            status, answer = again.search("service=walrun", limit="5")
            check(not damage_warnings(answer),
                  "warning came back after a restart: %s" % answer["warnings"])
            code, out, err = cli(binary, "admin", "damage", "list", "--server", again.url)
            check(code == 0 and "acknowledged 2" in out and "UNACKNOWLEDGED" not in out,
                  "damage list after restart:\n" + out)
        finally:
            again.cleanup()
    finally:
        server.cleanup()
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
