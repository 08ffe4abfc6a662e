#!/usr/bin/env python3
"""The server CPU of a search, for comparing builds on a shared machine (wall times move with
other engineers' load; the server's own CPU much less):

    bench/search_cpu.py SAWMILL DATA_DIR RUNS QUERY [QUERY ...]

Starts `SAWMILL server` on DATA_DIR (a store a run left behind, e.g. with BENCH_KEEP=1; use a
copy: the server may write to it) on a free loopback port, and for each QUERY makes two untimed
searches, then RUNS searches one after another (`GET /api/v1/search?q=QUERY&all_time=1&limit=100
&cache=0`). Prints per query the median wall time, the server's CPU per search (user + system
seconds from /proc over the RUNS searches, divided by RUNS) and the last answer's stats
(blocks read, rows scanned, rows ruled out from columns), then the server's threads' time on a
core and runnable but waiting for a core per search (/proc/PID/task/*/schedstat, ns: the
machine's load shows as the wait) and the 1-minute load average. Run it with each build in
turn, on the same data, alternated (docs/performance.md "Id lookups").

SEARCH_CPU_SERVER_ARGS adds arguments to the server's command line (e.g. "--warm-after 0", as
the peers area pins the tiers so that an old store is not re-encoded while it is measured);
SEARCH_CPU_PARAMS adds search parameters (e.g. "time_field=ts", as the peers area asks
`| count by bucket(1m), level`)."""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    binary, data, runs, queries = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="search_cpu-", suffix=".log", delete=False)
    server_args = os.environ.get("SEARCH_CPU_SERVER_ARGS", "").split()
    params = dict(kv.split("=", 1) for kv in os.environ.get("SEARCH_CPU_PARAMS", "").split())
    proc = subprocess.Popen([binary, "server", "--data", data, "--http", f"127.0.0.1:{port}"] +
                            server_args, stdout=log, stderr=log)

    def cpu_ms():
        fields = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")

    def sched_ms():
        # Over the server's threads (/proc/PID/task/*/schedstat): ns on a core and ns runnable
        # but waiting for one (the machine's load), in ms. A thread that ended is not counted.
        on = waited = 0
        for task in os.listdir(f"/proc/{proc.pid}/task"):
            try:
                fields = open(f"/proc/{proc.pid}/task/{task}/schedstat").read().split()
            except OSError:
                continue
            on += int(fields[0])
            waited += int(fields[1])
        return on / 1e6, waited / 1e6

    try:
        for _ in range(600):
            try:
                if urllib.request.urlopen(url + "/readyz").status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit(f"search_cpu: the server did not become ready; its log: {log.name}")
        for q in queries:
            target = url + "/api/v1/search?" + urllib.parse.urlencode(
                {"q": q, "all_time": "1", "limit": "100", "cache": "0", **params})
            for _ in range(2):
                urllib.request.urlopen(target).read()
            times = []
            before = cpu_ms()
            on_before, waited_before = sched_ms()
            for _ in range(runs):
                t = time.perf_counter()
                body = urllib.request.urlopen(target).read()
                times.append((time.perf_counter() - t) * 1000)
            used = cpu_ms() - before
            on_after, waited_after = sched_ms()
            doc = json.loads(body)
            st = doc.get("stats", {})
            print(f"{q[:60]:60s} wall median {statistics.median(times):7.2f} ms, server CPU "
                  f"{used / runs:6.2f} ms a search; blocks_read {st.get('blocks_read')} "
                  f"rows_scanned {st.get('rows_scanned')} rows_from_columns "
                  f"{st.get('rows_from_columns')}; on a core {(on_after - on_before) / runs:6.2f}"
                  f" ms, waiting for one {(waited_after - waited_before) / runs:6.2f} ms a search;"
                  f" load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
