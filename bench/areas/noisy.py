"""Area "noisy": the noisy neighbour (issue 15, docs/security.md "Quotas").

Tenant B ingests at a steady rate under its quota and searches its data; its acknowledgement
latency p99 and search latency p50 are measured alone and while tenant A floods at 10x A's
ingest quota. Goal: B's figures at most 20% worse with A flooding. The rounds alternate in the
order alone, flooding, flooding, alone, ... so that a drift of the machine's load hits both
alike; each figure is the median over the rounds. B's searches cover only the lines loaded
before the rounds (a fixed from/to), so what they read does not grow from round to round.
"""

import json
import os
import statistics
import subprocess
import time

from benchlib.common import (HTTP_TOOL, LINES, QUICK, WORK, emit_table, fmt_int, fmt_num,
                             fmt_ratio, goal, log, put)
from benchlib.server import Server, search_target

A_QUOTA = int(os.environ.get("BENCH_NOISY_QUOTA", "2000"))  # tenant A's lines/s
B_RATE = int(os.environ.get("BENCH_NOISY_B_RATE", "2000"))  # tenant B's steady lines/s
SECONDS = int(os.environ.get("BENCH_NOISY_SECONDS", "10" if QUICK else "20"))
ROUNDS = int(os.environ.get("BENCH_NOISY_ROUNDS", "2" if QUICK else "3"))
B_PRELOAD = min(LINES, int(os.environ.get("BENCH_NOISY_PRELOAD", "200000")))
GOAL = 1.20


def tool(*args):
    return [HTTP_TOOL] + [str(a) for a in args]


def run_round(server, corpus, flood, window):
    """One round: B's steady ingest and search loop, with or without A's flood."""
    procs = {
        "b_ingest": subprocess.Popen(
            tool("ingest", "--addr", server.addr, "--tenant", "b", "--file", corpus,
                 "--batch", 100, "--clients", 2, "--rate", B_RATE, "--max-seconds", SECONDS),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        # cache=0: every search runs for real.
        "b_search": subprocess.Popen(
            tool("query", "--addr", server.addr, "--tenant", "b",
                 "--target", search_target("level=ERROR OR level=WARN", cache="0", limit="100",
                                           all_time="0", **window),
                 "--runs", 1_000_000, "--max-seconds", SECONDS, "--min-runs", 5),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    }
    if flood:
        # 10x A's quota, in batches of 1,000 from 4 connections.
        procs["a_flood"] = subprocess.Popen(
            tool("ingest", "--addr", server.addr, "--tenant", "a", "--file", corpus,
                 "--batch", 1000, "--clients", 4, "--rate", 10 * A_QUOTA,
                 "--max-seconds", SECONDS),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=SECONDS + 600)
        if proc.returncode != 0:
            raise RuntimeError(f"{name}: exit {proc.returncode}: {stderr[-300:]}")
        out[name] = json.loads(stdout)
    b = out["b_ingest"]
    if b["errors"]:
        raise RuntimeError(f"tenant B's batches failed: {b['errors']} ({b['first_error']})")
    return out


def run_area(corpus, manifest):
    title = (f"Noisy neighbour: tenant B alone and while tenant A floods at 10× its ingest quota "
             f"({A_QUOTA:,} lines/s); B ingests {B_RATE:,} lines/s and searches, "
             f"{ROUNDS} × {SECONDS} s each way")
    config = os.path.join(WORK, "noisy.yaml")
    with open(config, "w") as f:
        f.write(f"tenant_quotas:\n  a: {{ingest_lines_per_sec: {A_QUOTA}, ingest_burst: 1s}}\n")
    server = Server("noisy", args=["--config", config])
    try:
        log(f"noisy: {B_PRELOAD:,} lines for tenant B, flushed")
        start = int(time.time()) - 1
        subprocess.run(tool("ingest", "--addr", server.addr, "--tenant", "b", "--file", corpus,
                            "--lines", B_PRELOAD), check=True, capture_output=True)
        window = {"from": str(start), "to": str(int(time.time()) + 1)}
        server.flush()
        time.sleep(1)  # B's steady lines come after "to"
        alone, flooded = [], []
        for r in range(ROUNDS):
            for flood in ((False, True) if r % 2 == 0 else (True, False)):
                log(f"noisy: round {r + 1}/{ROUNDS}, " + ("A flooding" if flood else "B alone"))
                (flooded if flood else alone).append(run_round(server, corpus, flood, window))
    finally:
        server.stop()

    def median(rounds, name, key):
        return statistics.median(x[name][key] for x in rounds)

    rows = []
    for label, name, key, path in (("B ingest ack p99 (ms)", "b_ingest", "ack_p99_ms", "ack_p99_ms"),
                                   ("B search p50 (ms)", "b_search", "p50_ms", "search_p50_ms")):
        a = median(alone, name, key)
        f = median(flooded, name, key)
        ratio = f / a if a > 0 else None
        met = ratio is not None and ratio <= GOAL
        put(f"noisy.alone.{path}", a)
        put(f"noisy.flooding.{path}", f)
        put(f"noisy.ratio.{path}", ratio)
        rows.append([label, fmt_num(a, 2), fmt_num(f, 2), fmt_ratio(ratio), "≤ 1.20×",
                     goal("noisy", f"tenant B's {label.split(' (')[0][2:]} with A flooding ≤ "
                                   f"1.20× alone", fmt_ratio(ratio), met)])
    b_p50 = (median(alone, "b_ingest", "ack_p50_ms"), median(flooded, "b_ingest", "ack_p50_ms"))
    rows.append(["B ingest ack p50 (ms)", fmt_num(b_p50[0], 2), fmt_num(b_p50[1], 2),
                 fmt_ratio(b_p50[1] / b_p50[0] if b_p50[0] > 0 else None), "—", ""])
    searches = (median(alone, "b_search", "ok"), median(flooded, "b_search", "ok"))
    rows.append(["B searches per round", fmt_int(searches[0]), fmt_int(searches[1]), "—", "—",
                 ""])
    sent = statistics.median(x["a_flood"]["lines_sent"] / SECONDS for x in flooded)
    acked = statistics.median(x["a_flood"]["lines_acked"] / SECONDS for x in flooded)
    refused = statistics.median(x["a_flood"]["statuses"].get("429", 0) for x in flooded)
    put("noisy.a_sent_lines_per_s", sent)
    put("noisy.a_acked_lines_per_s", acked)
    put("noisy.a_refused_batches", refused)
    rows.append(["A lines/s sent / acknowledged", "—", f"{fmt_int(sent)} / {fmt_int(acked)}",
                 "—", "—", ""])
    notes = [
        f"A's quota ({A_QUOTA:,} lines/s, burst 1 s) comes from the config file's tenant_quotas; "
        f"A sends {10 * A_QUOTA:,} lines/s in batches of 1,000 from 4 connections and gets 429 "
        f"for what is over (median {fmt_int(refused)} refused batches a round). B has no quota "
        f"and sends {B_RATE:,} lines/s in batches of 100 from 2 connections, and searches "
        "`level=ERROR OR level=WARN` (cache=0, limit 100) one after another over "
        f"the {B_PRELOAD:,} lines loaded (and flushed) before the rounds.",
        "All load generators run on the same cores as the server; figures are medians over the "
        "rounds, which alternate (alone, flooding, flooding, alone, ...). When the corpus has "
        "fewer lines than A's flood needs, A stops early: its lines/s sent says so.",
    ]
    emit_table(title, ["measure", "B alone", "A flooding", "flooding ÷ alone", "goal", "status"],
               rows, notes)
