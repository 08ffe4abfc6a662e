"""Area "profile" (issue 19, "Write path and memory"): where the server's CPU goes while it
ingests corpus lines over HTTP and flushes them (bench/profile_ingest.sh: perf at 499 Hz,
summarised by stage), and the ingest acknowledgement latency with 4 MiB bodies from 2 senders
(backpressure: how long a sender waits when flushing is behind)."""

import json
import os
import subprocess

from benchlib.common import (BUILD, HTTP_TOOL, LINES, ROOT, TABLES, WORK, emit_table, fmt_bytes,
                             fmt_num, goal, log, not_measured, put, run, run_json)
from benchlib.server import Server

PROFILE_LINES = int(os.environ.get("BENCH_PROFILE_LINES", str(min(LINES, 1_000_000))))


def profile(corpus):
    title = f"Ingest profile: server CPU by stage ({PROFILE_LINES:,} corpus lines, 2 clients, flush)"
    out = os.path.join(WORK, "profile")
    log(f"profile: perf over {PROFILE_LINES:,} lines")
    r = run(["bash", os.path.join(ROOT, "bench", "profile_ingest.sh"), BUILD],
            env={**os.environ, "LINES": str(PROFILE_LINES), "OUT": out, "CORPUS": corpus},
            timeout=3600)
    if r.returncode == 77:
        not_measured(title, "perf is not installed (Debian package linux-perf)")
        return
    if r.returncode != 0:
        not_measured(title, f"profile_ingest.sh exited {r.returncode}: {r.stderr.strip()[-300:]}")
        return
    with open(os.path.join(out, "profile.json")) as f:
        p = json.load(f)
    for key in ("cpu_s_per_million_lines", "peak_rss_mib_after_ingest",
                "peak_rss_mib_after_flush", "stages", "libraries", "samples"):
        put(f"profile.{key}", p[key])
    text = (f"### {title}\n\n`bench/profile_ingest.sh {BUILD}` (LINES={PROFILE_LINES}):\n\n"
            f"{r.stdout.strip()}\n")
    print(text, flush=True)
    TABLES.append(text)


def acks(corpus):
    title = "Ingest acknowledgements with 4 MiB bodies from 2 senders (backpressure)"
    server = Server("acks")
    try:
        log("profile: 4 MiB bodies, 2 senders")
        before = server.cpu_seconds()
        r = run_json([HTTP_TOOL, "ingest", "--addr", server.addr, "--file", corpus,
                      "--clients", "2", "--batch-bytes", str(4 << 20), "--retry-429", "1"])
        cpu = server.cpu_seconds() - before
        peak = server.peak_rss()
    finally:
        server.stop()
    for key in ("ack_p50_ms", "ack_p99_ms", "ack_max_ms", "retried_429", "lines_acked"):
        put(f"profile.acks.{key}", r.get(key))
    rows = [
        ["lines acknowledged", f"{r['lines_acked']:,}"],
        ["ack p50 / p99 / max (ms)",
         f"{fmt_num(r['ack_p50_ms'])} / {fmt_num(r['ack_p99_ms'])} / {fmt_num(r['ack_max_ms'])}"],
        ["batches answered 429 and sent again", f"{r.get('retried_429', 0):,}"],
        ["lines/s (wall)", fmt_num(r["lines_per_s"], 0)],
        ["server CPU s per million lines", fmt_num(cpu / max(1, r["lines_acked"]) * 1e6)],
        ["server peak RSS", fmt_bytes(peak)],
    ]
    emit_table(title, ["measure", "Sawmill"], rows,
               notes=["`bench_http ingest --clients 2 --batch-bytes 4194304 --retry-429 1`: a "
                      "batch answered 429 is sent again after its Retry-After, and its latency "
                      "runs from the first send to the 200."])
    met = r["ack_p99_ms"] is not None and r["ack_p99_ms"] <= 250
    goal("profile", "ingest ack p99 ≤ 250 ms (4 MiB bodies, 2 senders)",
         f"{fmt_num(r['ack_p99_ms'])} ms", met)


def run_area(corpus, manifest):
    try:
        profile(corpus)
    except subprocess.TimeoutExpired:
        not_measured("Ingest profile", "profile_ingest.sh ran past an hour")
    acks(corpus)
