#!/usr/bin/env python3
"""Peak RSS while flushes run during ingest (issue 19, "peak RSS after ingest"; docs/performance.md
"Peak RSS at 10,000,000 lines").

At the issue's scale every memtable is flushed while lines still arrive: the memtables stay at
about their cap and the flushes' own buffers come on top. This runs that at a small scale: the
real server with its defaults but a 16 MiB memtable cap is sent 400,000 corpus lines (the
benchmarks' generator) by 8 keep-alive connections in batches of 1,000, as the peers benchmark
sends them, so that memtables are flushed throughout the ingest. Then:

- flushes ran during the ingest (at least 8), nothing was refused for good (a 429 is sent again
  after its Retry-After), and after a flush every acknowledged line is there exactly once;
- the peak RSS (VmHWM) rose by at most RISE_BOUND above the idle server's RSS. With two flushes
  at once and one jemalloc arena per CPU (the defaults before session 12) it rose by 109-117 MiB
  on the 2-core machine of the benchmarks; with one flush at a time and one arena by 71 MiB.

usage: e2e_flush_memory_test.py SAWMILL_BINARY BENCH_GEN_CORPUS_BINARY
"""

import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import Server, check, metric_value  # noqa: E402

MIB = 1 << 20
LINES = 400_000
BATCH = 1_000
SENDERS = 8
RISE_BOUND = 90 * MIB
MIN_FLUSHES_DURING_INGEST = 8


def status_bytes(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no %s in /proc/%d/status" % (field, pid))


def batches(path):
    with open(path, "rb") as f:
        batch = []
        for line in f:
            batch.append(line)
            if len(batch) == BATCH:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)


def send_all(port, bodies):
    """Sends every body over SENDERS keep-alive connections; a 429 or 503 is sent again after
    its Retry-After. Returns the lines acknowledged; raises on any other answer."""
    lock = threading.Lock()
    it = iter(bodies)
    acked = [0]
    errors = []

    def sender():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while True:
                with lock:
                    body = next(it, None)
                if body is None or errors:
                    return
                while True:
                    conn.request("POST", "/api/v1/ingest", body=body,
                                 headers={"Content-Type": "application/x-ndjson"})
                    r = conn.getresponse()
                    answer = r.read()
                    if r.status in (429, 503):
                        time.sleep(float(r.getheader("Retry-After") or "1"))
                        continue
                    if r.status != 200:
                        errors.append("%d %s" % (r.status, answer[:300]))
                        return
                    break
                with lock:
                    acked[0] += body.count(b"\n")
        finally:
            conn.close()

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "ingest answered %s" % errors[:1])
    return acked[0]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, gen = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="sawmill_flush_memory_") as tmp:
        corpus = os.path.join(tmp, "corpus.ndjson")
        subprocess.run([gen, "--lines", str(LINES), "--out", corpus], check=True,
                       stdout=subprocess.DEVNULL)
        with Server(binary, extra_args=["--memtable-cap", "16MiB"]) as s:
            pid = s.proc.pid
            idle = status_bytes(pid, "VmRSS")
            flushes_before = metric_value(s.metrics(), "sawmill_flushes_total") or 0
            acked = send_all(s.port, batches(corpus))
            peak = status_bytes(pid, "VmHWM")
            flushes = (metric_value(s.metrics(), "sawmill_flushes_total") or 0) - flushes_before
            print("idle RSS %.1f MiB, peak %.1f MiB (rise %.1f MiB), %d flushes during ingest, "
                  "%d lines acknowledged" % (idle / MIB, peak / MIB, (peak - idle) / MIB,
                                             flushes, acked))
            check(acked == LINES, "acknowledged %d of %d lines" % (acked, LINES))
            check(flushes >= MIN_FLUSHES_DURING_INGEST,
                  "only %d flushes ran during the ingest (the test wants memtables flushed while "
                  "lines arrive)" % flushes)
            check(peak - idle <= RISE_BOUND,
                  "peak RSS rose by %.1f MiB during an ingest with flushes, more than %d MiB" %
                  ((peak - idle) / MIB, RISE_BOUND // MIB))
            s.flush()
            stored = s.count("*", whole=True)
            check(stored == LINES, "%d lines stored after the flush, %d acknowledged" %
                  (stored, LINES))
    print("OK")


if __name__ == "__main__":
    main()
