"""Area "ingest": ingestion over HTTP, lines/s per core beside `zstd -3`."""

import os
import time

from benchlib.common import (HTTP_TOOL, LINES, SMALL_LINES, STATE, emit_table, fmt_bytes,
                             fmt_int, fmt_num, fmt_ratio, goal, log, put, run, run_json, settle)
from benchlib.corpus import ensure_corpus
from benchlib.server import Server


def ingest_file(server, path, clients=8, query=""):
    before = server.cpu_seconds()
    result = run_json([HTTP_TOOL, "ingest", "--addr", server.addr, "--file", path,
                       "--clients", str(clients), "--batch", "1000",
                       "--path", "/api/v1/ingest" + query])
    result["cpu_s"] = server.cpu_seconds() - before
    if result["lines_acked"] == 0:
        raise RuntimeError(f"no batch acknowledged: {result['first_error']}")
    return result


def zstd_lines_per_core(path, lines):
    """Baseline: lines/s per core of `zstd -3` on the same bytes (compression alone)."""
    t0 = os.times()
    run(["bash", "-c", f"zstd -3 -q -c '{path}' > /dev/null"])
    t1 = os.times()
    cpu = (t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)
    return lines / cpu if cpu > 0 else None


def run_area(corpus, manifest):
    title = f"Ingestion over HTTP (8 clients, batches of 1,000 lines, {LINES:,} corpus lines)"
    rows = []
    notes = []
    server = Server("ingest")
    try:
        log(f"ingest: {LINES:,} corpus lines over HTTP")
        r = ingest_file(server, corpus)
        peak = server.peak_rss()
        log("ingest: flush")
        t = time.perf_counter()
        server.flush()
        flush_s = time.perf_counter() - t
        notes.append(f"Flush after ingest: {flush_s:.1f} s; {server.compact()}; segment files "
                     f"settled after {settle(server.data):.1f} s more.")
        STATE["corpus_data"] = server.data
        STATE["corpus_lines_acked"] = r["lines_acked"]
    finally:
        server.stop()
    per_core = r["lines_acked"] / r["cpu_s"] if r["cpu_s"] > 0 else None
    base = zstd_lines_per_core(corpus, LINES)
    put("ingest.lines_per_s_per_core", per_core)
    put("ingest.lines_per_s_wall", r["lines_per_s"])
    put("ingest.cpu_s", r["cpu_s"])
    put("ingest.peak_rss_bytes", peak)
    put("ingest.ack_p50_ms", r["ack_p50_ms"])
    put("ingest.ack_p99_ms", r["ack_p99_ms"])
    put("ingest.lines_acked", r["lines_acked"])
    put("ingest.errors", r["errors"])
    put("ingest.baseline_zstd3_lines_per_s_per_core", base)
    rows.append(["lines/s per core (server CPU s)", fmt_int(per_core), "`zstd -3` of the same bytes",
                 fmt_int(base), fmt_ratio(per_core / base if per_core and base else None), "—", ""])
    rows.append(["lines/s (wall)", fmt_int(r["lines_per_s"]), "—", "—", "—", "—", ""])
    rows.append(["server CPU seconds", fmt_num(r["cpu_s"]), "—", "—", "—", "—", ""])
    rows.append(["server peak RSS", fmt_bytes(peak), "—", "—", "—", "—", ""])
    rows.append(["ack latency p50 (ms)", fmt_num(r["ack_p50_ms"]), "—", "—", "—", "—", ""])
    rows.append(["ack latency p99 (ms)", fmt_num(r["ack_p99_ms"]), "—", "—", "—", "—", ""])
    if r["errors"]:
        notes.append(f"{r['errors']} batches failed; first: {r['first_error']}")

    # Issue 3's goal is stated for 200-byte lines with a sync every batch of 1,000.
    small, _ = ensure_corpus(SMALL_LINES, max_line_bytes=200)
    server = Server("ingest-200b")
    try:
        log(f"ingest: {SMALL_LINES:,} lines of 200 bytes")
        s = ingest_file(server, small)
    finally:
        server.stop()
    small_per_core = s["lines_acked"] / s["cpu_s"] if s["cpu_s"] > 0 else None
    small_base = zstd_lines_per_core(small, SMALL_LINES)
    put("ingest.small_lines.lines_per_s_per_core", small_per_core)
    put("ingest.small_lines.ack_p99_ms", s["ack_p99_ms"])
    met = small_per_core is not None and small_per_core >= 1_000_000
    rows.append([f"200-byte lines: lines/s per core ({SMALL_LINES:,} lines)", fmt_int(small_per_core),
                 "`zstd -3` of the same bytes", fmt_int(small_base),
                 fmt_ratio(small_per_core / small_base if small_per_core and small_base else None),
                 "≥ 1,000,000",
                 goal("ingest", "≥ 1,000,000 lines/s per core, 200-byte lines, sync per 1,000",
                      fmt_int(small_per_core), met)])
    notes.append("200-byte lines: the corpus generator's fixed-size variant (fields as in the "
                 "corpus, the message cut so that each line is at most 200 bytes).")
    notes.append("Lines/s per core = acknowledged lines ÷ the server's CPU seconds "
                 "(utime + stime from /proc/<pid>/stat) during the ingest; the load generator "
                 "runs on the same cores.")
    emit_table(title, ["measure", "Sawmill", "baseline", "baseline figure", "Sawmill ÷ baseline",
                       "goal", "status"], rows, notes)

