"""Storage tiers through the real server: ingest (old lines and a real dataset), `sawmill admin
tiers move` to warm and then to cold, and the same searches answer exactly the same lines before
and after each move (a differential test); `sawmill admin tiers` shows where the bytes are, the
metrics count the transitions, a second move changes nothing, and a restart keeps it all."""

import os
import subprocess
import sys

from e2e_lib import (Server, check, ingest_tier_corpus, metric_value, request, search_answers,
                     tier_table)

QUERIES = [
    "*",
    "level=ERROR",
    "service=payments",
    "timeout",
    "user_id=u7",
    "trace_id=t00042",
    "status>=500",
    "* | count by service, level",
    "service=loghub_Linux",
    "session opened",
]


def answers(s):
    return search_answers(s, QUERIES)


def admin(binary, s, *args):
    result = subprocess.run([binary, "admin"] + list(args) + ["--server", s.url],
                            capture_output=True, text=True, timeout=600)
    check(result.returncode == 0, "sawmill admin %s: exit %d\n%s%s" % (
        " ".join(args), result.returncode, result.stdout, result.stderr))
    return result.stdout


tiers = tier_table


def main(binary, shared):
    # No background mover: the moves below are the admin calls'.
    with Server(binary, extra_args=["--tier-interval", "0", "--compaction", "off"]) as s:
        ingest_tier_corpus(binary, s, shared, trace_ids=True)
        before = answers(s)
        check(len(before["*"]) > 2000, "lines before: %d" % len(before["*"]))
        hot = tiers(s)
        check(hot["hot"]["segments"] > 0 and hot["warm"]["segments"] == 0 and
              hot["cold"]["segments"] == 0, "tiers before any move: %r" % hot)

        # Only what is older than a day moves: the 2024 lines, not the real dataset's (ingested
        # now, and its lines carry no year, so they are stamped this year or now).
        out = admin(binary, s, "tiers", "move", "--older-than", "1d", "--to", "warm")
        check("moved to warm:" in out, "tiers move output: %r" % out)
        warm = tiers(s)
        check(warm["warm"]["segments"] > 0, "nothing went warm: %r" % warm)
        check(answers(s) == before, "answers changed by the move to warm")

        out = admin(binary, s, "tiers", "move", "--older-than", "0s", "--to", "cold")
        cold = tiers(s)
        check(cold["hot"]["segments"] == 0 and cold["warm"]["segments"] == 0 and
              cold["cold"]["segments"] > 0, "not everything went cold: %r" % cold)
        check(cold["cold"]["rows"] == len(before["*"]),
              "cold rows %d, lines %d" % (cold["cold"]["rows"], len(before["*"])))
        check(cold["cold"]["bytes"] < hot["hot"]["bytes"],
              "cold bytes %d not below hot %d" % (cold["cold"]["bytes"], hot["hot"]["bytes"]))
        after = answers(s)
        for q in QUERIES:
            check(after[q] == before[q], "query %r answers differently after the move to cold"
                  % q)
        cold_dir = os.path.join(s.data_dir, "cold")
        check(os.path.isdir(os.path.join(cold_dir, "default")), "no cold objects under %s"
              % cold_dir)
        check(not any(f for _, _, fs in os.walk(os.path.join(s.data_dir, "segments")) for f in fs),
              "segment files left in the data directory after everything went cold")

        # The table a user reads, and the metrics.
        table = admin(binary, s, "tiers")
        rows = [l.split() for l in table.splitlines()[1:4]]
        check([r[0] for r in rows] == ["hot", "warm", "cold"], "tiers table:\n" + table)
        check("default" in table, "no per-tenant row:\n" + table)
        metrics = s.metrics()
        check(metric_value(metrics, "sawmill_tier_transitions_total", tier="cold") ==
              cold["cold"]["segments"], "transition metrics:\n" + metrics)
        check(metric_value(metrics, "sawmill_segments", tier="cold") == cold["cold"]["segments"],
              "sawmill_segments{tier=cold}")

        # Idempotent: a second move does nothing.
        out = admin(binary, s, "tiers", "move", "--older-than", "0s", "--to", "cold")
        check("0 segments hot->warm, 0 warm->cold" in out, "second move: %r" % out)
        check(tiers(s) == cold, "second move changed the tiers")

        # Bad input is refused with a clear error.
        status, _, body = request(s.url + "/api/v1/admin/tiers/move?older_than=3x&to=warm",
                                  method="POST", body=b"")
        check(status == 400 and b"older_than" in body, "bad duration: %d %s" % (status, body))
        status, _, body = request(s.url + "/api/v1/admin/tiers/move?older_than=3d&to=hot",
                                  method="POST", body=b"")
        check(status == 400 and b"warm or cold" in body, "bad tier: %d %s" % (status, body))

        s.stop()
        s.start()
        check(answers(s) == before, "answers changed after a restart")
        check(tiers(s) == cold, "tiers changed after a restart")
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
