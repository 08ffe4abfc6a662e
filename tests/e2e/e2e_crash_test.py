"""kill -9 in the middle of an ingest loop: after a restart every acknowledged line is there
exactly once (no acknowledged line lost, none duplicated by WAL replay)."""

import re
import sys
import threading
import time

from e2e_lib import Server, check

LINES_PER_BATCH = 40
SENDERS = 3


def main(binary):
    server = Server(binary).start()
    acked = set()          # (sender, batch)
    lock = threading.Lock()
    stop = threading.Event()

    def sender(sid):
        batch = 0
        while not stop.is_set():
            body = "".join("crashrun s%d b%d i%d\n" % (sid, batch, i)
                           for i in range(LINES_PER_BATCH))
            try:
                status, _, _ = server.ingest(body, params={"service": "crash"}, timeout=10)
            except OSError:
                return  # the server died mid-request: this batch was never acknowledged
            if status == 200:
                with lock:
                    acked.add((sid, batch))
            batch += 1

    try:
        threads = [threading.Thread(target=sender, args=(s,)) for s in range(SENDERS)]
        for t in threads:
            t.start()
        # Kill while requests are in flight, once a fair number were acknowledged.
        deadline = time.time() + 30
        while time.time() < deadline:
            with lock:
                if len(acked) >= 60:
                    break
            time.sleep(0.01)
        server.kill9()
        stop.set()
        for t in threads:
            t.join()
        with lock:
            acked_batches = set(acked)
        check(acked_batches, "no batch was acknowledged before the kill")
        print("acknowledged %d batches (%d lines) before kill -9" %
              (len(acked_batches), len(acked_batches) * LINES_PER_BATCH))

        restarted = Server(binary, data_dir=server.data_dir, port=server.port).start()
        try:
            seen = {}
            status, answer = restarted.search("crashrun", limit="10000")
            check(status == 200, "search after restart: %d %s" % (status, answer))
            check(not answer["partial"], "partial answer after restart: %s" % answer["warnings"])
            for hit in answer["hits"]:
                seen[hit["message"]] = seen.get(hit["message"], 0) + 1
            check(len(answer["hits"]) < 10000, "too many hits for one page")
            missing = [(s, b, i) for (s, b) in acked_batches for i in range(LINES_PER_BATCH)
                       if seen.get("crashrun s%d b%d i%d" % (s, b, i), 0) == 0]
            duplicated = [m for m, n in seen.items() if n > 1]
            check(not missing, "%d acknowledged lines lost, e.g. %s" % (len(missing), missing[:5]))
            check(not duplicated, "%d lines stored twice, e.g. %s" % (len(duplicated),
                                                                    duplicated[:5]))
            extra = len(seen) - len(acked_batches) * LINES_PER_BATCH
            print("after restart: all %d acknowledged lines present once; %d unacknowledged "
                  "lines of in-flight batches also made it" %
                  (len(acked_batches) * LINES_PER_BATCH, extra))
            # The replay summary counts batches (WAL records) and lines, each named as such.
            # (The log file holds both runs: the restart's summary is the last one.)
            summaries = list(re.finditer(r"WAL replay: (\d+) batches, (\d+) lines: (\d+) lines "
                                         r"back into memtables, (\d+) lines already in segments",
                                         restarted.read_log()))
            check(summaries, "no WAL replay summary in the log:\n" + restarted.read_log())
            summary = summaries[-1]
            batches, lines, back, already = (int(g) for g in summary.groups())
            check(lines == back + already and batches >= 1 and lines >= batches,
                  "WAL replay summary does not add up: " + summary.group(0))
            check(re.search(r"WAL replay: \d+ batches from ", restarted.read_log()),
                  "no per-file WAL replay line in batches")
            print(summary.group(0))
            check(restarted.stop() == 0, "restarted server did not exit 0 after SIGTERM")
        finally:
            restarted.cleanup()
    finally:
        server.cleanup()
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
