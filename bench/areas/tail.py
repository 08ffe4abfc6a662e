"""Area "tail": live-tail sessions with mixed filters while ingesting at a fixed rate."""

import os

from benchlib.common import (HTTP_TOOL, TAIL_RATE, TAIL_SECONDS, TAIL_SESSIONS, WORK, emit_table,
                             fmt_bytes, fmt_int, fmt_num, fmt_ratio, goal, log, put, run_json)
from benchlib.server import Server


def tail_filters(manifest):
    """Mixed filters in the on-call style (fields, levels, boolean, words); a session sees from
    none to a few hundred lines per second, about 10 on average at 50,000 lines/s."""
    services = manifest["services"]
    per = manifest["hosts_per_service"]
    out = []
    for i in range(400):
        rank = i % len(services)
        svc = services[rank]
        host = f"node-{rank * per + (i // len(services)) % per:03d}"
        kind = i % 8
        if kind in (0, 1):
            out.append(f"service={svc} host={host} level=ERROR")
        elif kind in (2, 3):
            out.append(f"host={host} level>=WARN")
        elif kind == 4:
            out.append(f"service={svc} level=ERROR")
        elif kind == 5:
            out.append(f"host={host} level=ERROR {manifest['common_word']}")
        elif kind == 6:
            out.append(f"service={svc} host={host} (level=WARN OR level=ERROR)")
        else:
            out.append(manifest["rare_word"])
    return out


def run_area(corpus, manifest):
    title = (f"Live tail: {TAIL_SESSIONS:,} sessions with mixed filters while ingesting "
             f"{TAIL_RATE:,} lines/s for {TAIL_SECONDS} s")
    filters = os.path.join(WORK, "tail-filters.txt")
    with open(filters, "w") as f:
        f.write("\n".join(tail_filters(manifest)) + "\n")
    # 2,000 WebSocket sessions plus the ingest connections exceed the default connection bound.
    server = Server("tail", args=["--max-connections", str(TAIL_SESSIONS + 256)])
    try:
        log(f"tail: {TAIL_SESSIONS} sessions")
        r = run_json([HTTP_TOOL, "tail", "--addr", server.addr, "--file", corpus, "--filters",
                      filters, "--sessions", str(TAIL_SESSIONS), "--rate", str(TAIL_RATE),
                      "--seconds", str(TAIL_SECONDS)], timeout=TAIL_SECONDS + 600)
        peak = server.peak_rss()
    finally:
        server.stop()
    measured = r["records"] > 0
    put("tail.sessions_open", r["open"])
    put("tail.achieved_lines_per_s", r["achieved_lines_per_s"])
    put("tail.records_received", r["records"])
    put("tail.dropped", r["dropped"])
    put("tail.p50_ms", r["p50_ms"] if measured else None)
    put("tail.p99_ms", r["p99_ms"] if measured else None)
    put("tail.send_to_receipt_p50_ms", r["send_p50_ms"] if measured else None)
    put("tail.send_to_receipt_p99_ms", r["send_p99_ms"] if measured else None)
    put("tail.records_before_ack", r["records_before_ack"])
    put("tail.server_peak_rss_bytes", peak)
    p99 = r["p99_ms"] if measured else None
    # The goal holds only at the load it names: every session open and (nearly) the full rate.
    at_load = r["open"] == TAIL_SESSIONS and r["achieved_lines_per_s"] >= 0.9 * TAIL_RATE
    status = goal("tail", f"tail p99 ack-to-receipt < 1 s with {TAIL_SESSIONS:,} sessions at "
                  f"{TAIL_RATE:,} lines/s",
                  f"{fmt_num(p99)} ms at {fmt_int(r['achieved_lines_per_s'])} lines/s",
                  p99 is not None and p99 < 1000 and at_load)
    if p99 is not None and p99 < 1000 and not at_load:
        status += " (not at the named load)"
    rows = [
        ["sessions open", fmt_int(r["open"]), "requested", fmt_int(TAIL_SESSIONS),
         fmt_ratio(r["open"] / TAIL_SESSIONS), "all", ""],
        ["ingest rate achieved (lines/s)", fmt_int(r["achieved_lines_per_s"]), "target",
         fmt_int(TAIL_RATE), fmt_ratio(r["achieved_lines_per_s"] / TAIL_RATE), "—", ""],
        ["ack-to-receipt p50 (ms)", fmt_num(r["p50_ms"] if measured else None), "—", "—", "—",
         "—", ""],
        ["ack-to-receipt p99 (ms)", fmt_num(p99), "the seed's bar (ms)", "2,000",
         fmt_ratio(p99 / 2000 if p99 is not None else None), "< 1,000", status],
        ["send-to-receipt p50 / p99 (ms)",
         f"{fmt_num(r['send_p50_ms'])} / {fmt_num(r['send_p99_ms'])}" if measured else "—",
         "—", "—", "—", "—", ""],
        ["records received / dropped", f"{r['records']:,} / {r['dropped']:,}", "—", "—", "—", "—",
         ""],
    ]
    notes = [f"A record is published to the sessions before its batch is acknowledged, so "
             f"{r['records_before_ack']:,} of {r['records']:,} records arrived before the ack "
             "and count as 0 ms; send-to-receipt runs from the moment the batch was sent. "
             f"Ingest acknowledgement p99 during the run: {fmt_num(r['ack_p99_ms'])} ms; "
             f"server peak RSS {fmt_bytes(peak)}; sessions opened in {r['connect_s']:.1f} s."]
    if r["failed"] or r["first_failure"]:
        notes.append(f"{r['failed']} sessions failed to open; first failure: {r['first_failure']}")
    if r["ingest_errors"]:
        notes.append(f"{r['ingest_errors']} ingest batches failed: {r['ingest_first_error']}")
    if not measured:
        notes.append("No record reached any session: p50/p99 not measured.")
    emit_table(title, ["measure", "Sawmill", "baseline", "baseline figure", "ratio", "goal",
                       "status"], rows, notes)

