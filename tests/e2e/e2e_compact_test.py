"""POST /api/v1/admin/compact and `sawmill admin compact`: many small segments become few, and
every search answer is the same before and after."""

import subprocess
import sys

from e2e_lib import Server, check


def answers(s):
    total = s.count("*")
    by_level = s.search("* | count by level")[1]["rows"]
    errors = s.search("level=ERROR", limit="10000")[1]["hits"]
    return total, sorted((r["level"], r["count"]) for r in by_level), [h["id"] for h in errors]


def main(binary):
    levels = ["DEBUG", "INFO", "WARN", "ERROR"]
    # Background compaction off: the small segments stay until the admin call, however slowly
    # this test runs, so the merge it checks is the on-demand one.
    with Server(binary, extra_args=["--compaction", "off"]) as s:
        # One batch and one flush at a time: every flush writes a small segment per partition.
        for batch in range(8):
            body = "".join('{"service":"svc%d","host":"h%d","level":"%s","msg":"batch %d line %d"}\n'
                           % (i % 3, i % 5, levels[i % 4], batch, i) for i in range(200))
            status, _, text = s.ingest(body)
            check(status == 200, "ingest: %d %s" % (status, text))
            s.flush()
        before = answers(s)
        check(before[0] == 1600, "lines before compaction: %r" % (before[0],))
        result = subprocess.run([binary, "admin", "compact", "--server", s.url],
                                capture_output=True, text=True, timeout=300)
        check(result.returncode == 0 and "compacted:" in result.stdout,
              "sawmill admin compact: exit %d, %s %s" % (result.returncode, result.stdout,
                                                        result.stderr))
        counts = result.stdout.split("compacted:")[1].split("(")[0].split("->")
        seg_before, seg_after = int(counts[0].split()[0]), int(counts[1].split()[0])
        # Each of the 8 flushes wrote one segment in every partition the 15 (service, host)
        # pairs use, and none was merged before the admin call.
        check(seg_before >= 8 * 4 and seg_before % 8 == 0,
              "not one unmerged segment per flush and partition: %s" % result.stdout)
        check(seg_after < seg_before, "compaction merged nothing: %s" % result.stdout)
        after = answers(s)
        check(after == before, "answers changed by compaction:\n%r\n%r" % (before, after))
        print("ok: %d segments -> %d, answers unchanged" % (seg_before, seg_after))
        s.stop()
        # The compacted state survives a restart.
        s.start()
        check(answers(s) == before, "answers changed after a restart")
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
