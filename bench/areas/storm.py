"""Area "storm": many identical concurrent queries against one (single flight)."""

import time
import urllib.parse

from benchlib.common import (HTTP_TOOL, STATE, STORM, emit_table, fmt_num, fmt_ratio, goal, log,
                             not_measured, percentile, put, run_json)
from benchlib.server import Server


def run_area(corpus, manifest):
    title = f"Search storm: {STORM} identical concurrent queries vs one"
    if "corpus_data" not in STATE:
        return not_measured(title, "the ingest area did not run or failed")
    # A heavy scan (a word in every message) with a small answer, as a dashboard panel asks.
    q = f"{manifest['common_word']} | count by service"
    server = Server("storm", STATE["corpus_data"])
    try:
        # Different absolute ranges that all cover the data: same work, distinct cache keys.
        # On ingest_ts (the default), which is about now.
        window = int(time.time()) - 7 * 86400
        end = int(time.time()) + 86400

        def target(k):
            return "/api/v1/search?" + urllib.parse.urlencode(
                {"q": q, "from": str(window - 1 - k), "to": str(end), "limit": "100"})

        server.get(target(999))  # hot
        singles = []
        for k in range(3):
            r = run_json([HTTP_TOOL, "query", "--addr", server.addr, "--target", target(k),
                          "--runs", "1"])
            if not r["ok"]:
                raise RuntimeError("single query failed: " + r["first_error"])
            singles.append(r["p50_ms"])
        single = percentile(singles, 0.5)
        log(f"storm: {STORM} concurrent")
        s = run_json([HTTP_TOOL, "storm", "--addr", server.addr, "--target", target(100),
                      "--concurrency", str(STORM)])
        # The same storm on a pipe with a large answer (5,760 rows): 200 answers to write.
        big_q = "| count by bucket(1m), level"

        def big_target(k):
            return "/api/v1/search?" + urllib.parse.urlencode(
                {"q": big_q, "all_time": "1", "time_field": "ts", "limit": str(1000 + k)})

        bs = run_json([HTTP_TOOL, "query", "--addr", server.addr, "--target", big_target(0),
                       "--runs", "1"])
        bw = run_json([HTTP_TOOL, "storm", "--addr", server.addr, "--target", big_target(1),
                       "--concurrency", str(STORM)])
    finally:
        server.stop()
    big_ratio = bw["wall_ms"] / bs["p50_ms"] if bs["ok"] and bw["ok"] == STORM else None
    put("storm.large_answer.single_ms", bs["p50_ms"] if bs["ok"] else None)
    put("storm.large_answer.wall_ms", bw["wall_ms"])
    put("storm.large_answer.ratio_to_single", big_ratio)
    ratio = s["wall_ms"] / single if single else None
    put("storm.single_ms", single)
    put("storm.wall_ms", s["wall_ms"])
    put("storm.ok", s["ok"])
    put("storm.ratio_to_single", ratio)
    status = goal("storm", f"{STORM} identical concurrent queries < 1.5× one", fmt_ratio(ratio),
                  ratio is not None and ratio < 1.5 and s["ok"] == STORM)
    notes = [f"Query `{q}` over all the data, result cache on; each run uses a time range "
             "no earlier run used, so neither the single runs nor the storm is served from the "
             f"cache. {s['ok']} of {STORM} answered 200."]
    if s["ok"] != STORM:
        notes.append(f"Statuses {s['statuses']}; first error: {s['first_error']}")
    notes.append("The large-answer row (distinct `limit` values keep it out of the cache) shows "
                 "the cost of writing 200 large answers, which single flight cannot share.")
    emit_table(title, ["measure", "Sawmill", "baseline", "baseline figure", "ratio", "goal",
                       "status"],
               [[f"{STORM} concurrent: time to the last answer (ms)", fmt_num(s["wall_ms"]),
                 "one query alone (median of 3, ms)", fmt_num(single), fmt_ratio(ratio),
                 "< 1.5×", status],
                [f"same, `{big_q}` (large answer)", fmt_num(bw["wall_ms"]), "one query alone",
                 fmt_num(bs["p50_ms"] if bs["ok"] else None), fmt_ratio(big_ratio), "—", ""]],
               notes)

