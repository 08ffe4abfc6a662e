#!/usr/bin/env python3
"""Peak RSS of `sawmill server` while it ingests corpus lines over HTTP, with a breakdown over time
(issue 19, "peak RSS after ingest"; docs/performance.md "Where the peak RSS comes from").

The server is started and fed exactly as the peers area does (bench/areas/peers.py: a fresh data
directory, default settings, 8 keep-alive connections, batches of 1,000 lines to
/api/v1/ingest), so its "peak RSS after ingest" is the peers area's figure. Meanwhile the
server's /proc/PID/status (VmRSS, VmHWM) and /metrics (memtable bytes, ingest memory reserved,
flushes) are sampled every 100 ms; the samples around the peak say what the memory held.

  python3 bench/memory_peak.py --sawmill BUILD/sawmill --corpus CORPUS.ndjson [--label L]
      [--server-arg=--memtable-cap --server-arg=64MiB] [--flush]

Prints one JSON line of figures (and, with --samples FILE, every sample as JSON lines). Extra
environment for the server (e.g. MALLOC_CONF) is passed through. Python 3 standard library only.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib.common import free_port, proc_cpu_seconds  # noqa: E402
from peers.common import line_batches, send_batches  # noqa: E402

METRICS = {
    "memtable": re.compile(rb"^sawmill_memtable_bytes(?:\{[^}]*\})? (\S+)$", re.M),
    "ingest_reserved": re.compile(rb"^sawmill_ingest_memory_bytes(?:\{[^}]*\})? (\S+)$", re.M),
    "flushes": re.compile(rb"^sawmill_flushes_total(?:\{[^}]*\})? (\S+)$", re.M),
    "memtable_memory": re.compile(rb"^sawmill_memtable_memory_bytes(?:\{[^}]*\})? (\S+)$", re.M),
}


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def tree_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def metric_sums(url):
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
            body = r.read()
    except OSError:
        return {}
    return {k: sum(float(v) for v in rx.findall(body)) for k, rx in METRICS.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sawmill", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--server-arg", action="append", default=[])
    ap.add_argument("--flush", action="store_true", help="also flush and report the peak after")
    ap.add_argument("--samples", help="write every sample here (JSON lines)")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="sawmill-mem-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(os.path.join(data, "..", os.path.basename(data) + ".log"), "wb")
    proc = subprocess.Popen([args.sawmill, "server", "--data", os.path.join(data, "d"), "--http",
                             f"127.0.0.1:{port}"] + args.server_arg, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        idle_kib = status_kib(proc.pid, "VmRSS")
        samples, stop = [], threading.Event()
        t0 = time.time()

        def sampler():
            while not stop.is_set():
                s = {"t": round(time.time() - t0, 2), "rss_mib": status_kib(proc.pid, "VmRSS") / 1024,
                     "anon_mib": status_kib(proc.pid, "RssAnon") / 1024,
                     "file_mib": status_kib(proc.pid, "RssFile") / 1024}
                s.update({k: v / (1 << 20) if k != "flushes" else v
                          for k, v in metric_sums(url).items()})
                samples.append(s)
                stop.wait(0.1)

        th = threading.Thread(target=sampler)
        th.start()
        cpu0 = proc_cpu_seconds(proc.pid)
        sent = send_batches("127.0.0.1", port, "/api/v1/ingest", args.corpus,
                            line_batches(args.corpus),
                            headers={"Content-Type": "application/x-ndjson"})
        hwm_ingest = status_kib(proc.pid, "VmHWM") / 1024
        ingest_end = time.time()
        cpu_ingest = proc_cpu_seconds(proc.pid) - cpu0
        out = {"label": args.label, "idle_rss_mib": round(idle_kib / 1024, 1),
               "peak_rss_after_ingest_mib": round(hwm_ingest, 1),
               "ingest_s": round(sent["seconds"], 2), "batches": sent["batches"],
               "errors": sent["errors"], "retries": sent["retries"],
               "cpu_s_ingest": round(cpu_ingest, 2), "ingest_end_epoch": round(ingest_end, 3)}
        if args.flush:
            req = urllib.request.Request(url + "/api/v1/admin/flush", data=b"", method="POST")
            urllib.request.urlopen(req, timeout=600).read()
            out["peak_rss_after_flush_mib"] = round(status_kib(proc.pid, "VmHWM") / 1024, 1)
            out["cpu_s_ingest_flush"] = round(proc_cpu_seconds(proc.pid) - cpu0, 2)
            out["segment_bytes"] = tree_bytes(os.path.join(data, "d", "segments"))
        time.sleep(0.3)
        stop.set()
        th.join()
        peak = max(samples, key=lambda s: s["rss_mib"])
        out["sampled_peak"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in peak.items()}
        out["max_memtable_mib"] = round(max(s.get("memtable", 0) for s in samples), 1)
        out["max_memtable_memory_mib"] = round(max(s.get("memtable_memory", 0) for s in samples), 1)
        out["max_ingest_reserved_mib"] = round(max(s.get("ingest_reserved", 0) for s in samples), 1)
        out["rss_after_mib"] = round(status_kib(proc.pid, "VmRSS") / 1024, 1)
        print(json.dumps(out), flush=True)
        if args.samples:
            with open(args.samples, "w") as f:
                for s in samples:
                    f.write(json.dumps(s) + "\n")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
