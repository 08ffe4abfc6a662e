"""Area "query": hot query latency beside the no-index engine, `rg` and `zstdcat | rg`."""

import json
import os

from benchlib.common import (BRUTE_RUNS, HTTP_TOOL, LINES, NO_CACHE_PARAMS, NO_INDEX_PARAMS,
                             QUERY_BUDGET_S, QUERY_RUNS, SHELL_RUNS, STATE, WORK, emit_table,
                             fmt_bytes, fmt_num, fmt_ratio, goal, log, percentile, put, run_json,
                             timed_shell)
from benchlib.corpus import corpus_zst
from benchlib.server import Server, search_target


def query_set(manifest):
    """(name, Sawmill query, extra request params, rg pattern command on FILE)."""
    trace = manifest["needle_trace_id"]
    rare = manifest["rare_word"]
    common = manifest["common_word"]
    svc = manifest["error_service"]
    # Aggregations: awk splitting on '"' (fields: $4 ts, $8 service, $16 level); faster than
    # `rg -o -r` with capture groups, so the stronger baseline.
    count = "awk -F'\"' '{c[substr($4, 1, 16) \" \" $16]++} END {print length(c)}'"
    top = ("awk -F'\"' '{c[$8]++} END {for (k in c) print c[k], k}' | sort -rn | head -n 10")
    return [
        ("trace_needle", f"trace_id={trace}", {}, f"rg -F '{trace}' | tail -n 100"),
        ("rare_word", rare, {}, f"rg -i -w '{rare}' | tail -n 100"),
        ("common_word", common, {}, f"rg -i -w '{common}' | tail -n 100"),
        ("rare_count", f"{rare} | count", {}, f"rg -i -w -c '{rare}'"),
        ("common_count", f"{common} | count", {}, f"rg -i -w -c '{common}'"),
        ("service_error", f"service={svc} level=ERROR", {},
         f"rg '\"service\":\"{svc}\",\"host\":\"[^\"]*\",\"level\":\"ERROR\"' | tail -n 100"),
        ("count_by_minute_level", "| count by bucket(1m), level", {"time_field": "ts"},
         count),
        ("top_services", "| top 10 service", {},
         top),
    ]


def rg_file(command, path):
    head, rest = command.split(" | ", 1) if " | " in command else (command, "")
    head = head + f" '{path}'"
    return head + (" | " + rest if rest else "")


def stats_of(body):
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc.get("stats", {}) if isinstance(doc, dict) else {}


def run_area(corpus, manifest):
    title = f"Queries on {LINES:,} lines, hot, after flush (median and p95 over {QUERY_RUNS} runs)"
    queries = query_set(manifest)
    zst = corpus_zst(corpus)
    server = None
    why = None
    if "corpus_data" not in STATE:
        why = "the ingest area did not run or failed"
    else:
        server = Server("query", STATE["corpus_data"])
    rows = []
    notes = []
    brute_ok = False
    try:
        if server:
            status, body = server.get(search_target("| count", explain="1", **NO_CACHE_PARAMS,
                                                    **NO_INDEX_PARAMS))
            plan = json.loads(body).get("plan", "") if status == 200 else ""
            brute_ok = "indexes: off" in plan
            if not brute_ok:
                notes.append("No-index: not measured: the search API has no parameter that turns "
                             f"the engine's indexes off (tried {NO_INDEX_PARAMS}; the plan said "
                             f"{plan.strip()[:120]!r}).")
        for name, q, extra, rg_cmd in queries:
            log(f"query: {name}")
            figures = {}
            if server:
                try:
                    for _ in range(2):  # hot: the first runs read the files into the page cache
                        server.get(search_target(q, limit="100", **extra, **NO_CACHE_PARAMS))
                    target = search_target(q, limit="100", **extra, **NO_CACHE_PARAMS)
                    body_path = os.path.join(WORK, f"query-{name}.json")
                    r = run_json([HTTP_TOOL, "query", "--addr", server.addr, "--target", target,
                                  "--runs", str(QUERY_RUNS), "--body-out", body_path,
                                  "--max-seconds", str(QUERY_BUDGET_S), "--min-runs", "5"])
                    if r["ok"] < QUERY_RUNS:
                        notes.append(f"`{q}`: {r['ok']} runs (the {QUERY_BUDGET_S} s budget ran out).")
                    put(f"query.{name}.runs", r["ok"])
                    if r["ok"] == 0:
                        raise RuntimeError(f"{name}: every run failed: {r['first_error']}")
                    with open(body_path, "rb") as f:
                        stats = stats_of(f.read())
                    figures["p50"], figures["p95"] = r["p50_ms"], r["p95_ms"]
                    figures["bytes"] = stats.get("bytes_read_compressed")
                    figures["brute"] = None
                    if brute_ok:
                        b = run_json([HTTP_TOOL, "query", "--addr", server.addr, "--target",
                                      search_target(q, limit="100", **extra, **NO_CACHE_PARAMS,
                                                    **NO_INDEX_PARAMS),
                                      "--runs", str(BRUTE_RUNS), "--max-seconds",
                                      str(QUERY_BUDGET_S), "--min-runs", "1"])
                        figures["brute"] = b["p50_ms"] if b["ok"] else None
                    put(f"query.{name}.p50_ms", r["p50_ms"])
                    put(f"query.{name}.p95_ms", r["p95_ms"])
                    put(f"query.{name}.bytes_read", figures["bytes"])
                    put(f"query.{name}.bytes_read_raw", stats.get("bytes_read_raw"))
                    put(f"query.{name}.rows_matched", stats.get("rows_matched"))
                    put(f"query.{name}.no_index_p50_ms", figures["brute"])
                except Exception as e:  # one query must not stop the others
                    notes.append(f"`{q}`: not measured: {e}")
                    put(f"query.{name}.p50_ms", None)
                    put(f"query.{name}.p95_ms", None)
                    put(f"query.{name}.error", str(e))
                    figures = {}
            rg = timed_shell(rg_file(rg_cmd, corpus), SHELL_RUNS)
            zrg = timed_shell(f"zstdcat '{zst}' | " + rg_cmd, SHELL_RUNS)
            figures["rg"] = percentile(rg, 0.5)
            figures["zrg"] = percentile(zrg, 0.5)
            put(f"query.{name}.rg_p50_ms", figures["rg"])
            put(f"query.{name}.zstdcat_rg_p50_ms", figures["zrg"])
            p50 = figures.get("p50")
            speedup_z = figures["zrg"] / p50 if p50 else None
            speedup_b = figures["brute"] / p50 if p50 and figures.get("brute") else None
            status = "—"
            if p50:
                checks = [x for x in (speedup_z, speedup_b) if x is not None]
                status = goal("query", f"{name}: ≥ 20× faster than zstdcat|rg and no-index engine",
                              f"{fmt_ratio(speedup_z)} / {fmt_ratio(speedup_b)}",
                              all(x >= 20 for x in checks))
                status = f"20×: {status}"
                if name in ("trace_needle", "rare_word", "rare_count"):
                    s2 = goal("query", f"{name}: under 20 ms (median)", f"{p50:.1f} ms", p50 < 20)
                    status = f"{status}; < 20 ms: {s2}"
            rows.append([f"`{q}`", fmt_num(p50) if p50 else "not measured",
                         fmt_num(figures.get("p95")), fmt_bytes(figures.get("bytes")),
                         fmt_num(figures.get("brute")), fmt_ratio(speedup_b),
                         fmt_num(figures["rg"]), fmt_num(figures["zrg"]), fmt_ratio(speedup_z),
                         status])
    finally:
        if server:
            server.stop()
    if why:
        notes.append(f"Sawmill: not measured: {why} (baselines only).")
    notes.append(
        "Times in ms. `rg` reads the raw NDJSON corpus, `zstdcat | rg` its `zstd -3` copy; each "
        "answers the same question (newest 100 lines: `| tail -n 100`; pipes: `awk` splitting fields on `\"`). "
        f"No-index = the engine with every index disabled ({BRUTE_RUNS} runs); rg baselines "
        f"{SHELL_RUNS} runs. Sawmill runs bypass the result cache. Bytes read = compressed "
        "bytes from the answer's stats.")
    emit_table(title, ["query", "Sawmill p50", "p95", "bytes read", "no-index p50",
                       "speed-up", "rg/awk p50", "zstdcat|rg p50", "speed-up", "goals"], rows, notes)
