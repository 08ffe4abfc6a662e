"""Area "agent": `sawmill agent` tailing a file, beside `cat FILE | sawmill ingest`."""

import json
import os
import signal
import subprocess
import time

from benchlib.common import (AGENT_LINES, NO_CACHE_PARAMS, SAWMILL, WORK, emit_table, fmt_bytes,
                             fmt_int, fmt_ratio, goal, log, proc_cpu_seconds, proc_peak_rss,
                             proc_rss, put)
from benchlib.corpus import corpus_head
from benchlib.server import Server, search_target


def stored_lines(server):
    """Every line the server holds (each agent run has its own server), bypassing the cache."""
    status, body = server.get(search_target("| count", **NO_CACHE_PARAMS), timeout=60)
    if status != 200:
        raise RuntimeError(f"`| count` answered {status}: {body[:200]!r}")
    rows = json.loads(body).get("rows") or []
    return int(rows[0].get("count", 0)) if rows else 0


def wait_for_lines(server, expected, timeout):
    deadline = time.time() + timeout
    last = 0
    while time.time() < deadline:
        last = stored_lines(server)
        if last >= expected:
            return last, True
        time.sleep(0.25)
    return last, False


def run_area(corpus, manifest):
    title = f"Agent: tailing a file of {AGENT_LINES:,} lines and shipping to a local server"
    adir = os.path.join(WORK, "agent")
    os.makedirs(os.path.join(adir, "spool"), exist_ok=True)
    app_log = corpus_head(corpus, AGENT_LINES, os.path.join(adir, "app.log"))
    rows, notes = [], []
    server = Server("agent")
    try:
        config = os.path.join(adir, "agent.yaml")
        with open(config, "w") as f:
            f.write(f"server: {server.url}\n"
                    f"spool: {{ path: {adir}/spool, max_bytes: 1GiB }}\n"
                    # The default per-host limit (1,000 lines/s) would shed the benchmark.
                    "rate_limit: { lines_per_sec: 0 }\n"
                    "inputs:\n"
                    "  - type: file\n"
                    f"    paths: [\"{app_log}\"]\n"
                    "    service: bench-agent\n"
                    "    start_at: beginning\n" + os.environ.get("BENCH_AGENT_YAML", ""))
        log("agent: shipping")
        agent_log = os.path.join(WORK, "agent.log")
        t = time.perf_counter()
        with open(agent_log, "wb") as out:
            agent = subprocess.Popen([SAWMILL, "agent", "--config", config], stdout=out,
                                     stderr=subprocess.STDOUT)
        try:
            got, done = wait_for_lines(server, AGENT_LINES, 600)
            wall = time.perf_counter() - t
            # Steady state: the agent keeps tailing the (now idle) file for a moment.
            time.sleep(2)
            agent_cpu = proc_cpu_seconds(agent.pid) if agent.poll() is None else None
            agent_rss = proc_peak_rss(agent.pid) if agent.poll() is None else None
            agent_rss_now = proc_rss(agent.pid) if agent.poll() is None else None
        finally:
            if agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
                try:
                    agent.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    agent.wait()
        if not done:
            with open(agent_log, "rb") as f:
                tail = f.read()[-400:].decode(errors="replace")
            raise RuntimeError(f"the server holds {got} of {AGENT_LINES} lines after "
                               f"{wall:.0f} s; agent log: {tail}")
        if agent_cpu is None:
            raise RuntimeError(f"the agent exited with {agent.returncode} before it was measured")
    finally:
        server.stop()

    server = Server("agent-baseline")
    try:
        log("agent: baseline cat | sawmill ingest")
        t = time.perf_counter()
        cat = subprocess.Popen(["cat", app_log], stdout=subprocess.PIPE)
        ing = subprocess.Popen([SAWMILL, "ingest", "--server", server.url, "--service",
                                "bench-cat"], stdin=cat.stdout, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        cat.stdout.close()
        _, wstatus, usage = os.wait4(ing.pid, 0)
        ing.returncode = os.waitstatus_to_exitcode(wstatus)
        cat.wait()
        if ing.returncode != 0:
            raise RuntimeError(f"sawmill ingest exited {ing.returncode}: "
                               f"{ing.stderr.read().decode(errors='replace')[-300:]}")
        base_got, _ = wait_for_lines(server, AGENT_LINES, 60)
        base_wall = time.perf_counter() - t
        base_cpu = usage.ru_utime + usage.ru_stime
        base_rss = usage.ru_maxrss * 1024
        notes.append(f"The baseline stored {base_got:,} of {AGENT_LINES:,} lines.")
    finally:
        server.stop()
    per_core = AGENT_LINES / agent_cpu if agent_cpu else None
    base_per_core = AGENT_LINES / base_cpu if base_cpu else None
    base_lines_per_s = AGENT_LINES / base_wall if base_wall else None
    put("agent.lines_per_s_per_core", per_core)
    put("agent.lines_per_s_wall", AGENT_LINES / wall)
    put("agent.peak_rss_bytes", agent_rss)
    put("agent.steady_rss_bytes", agent_rss_now)
    put("agent.baseline_cat_ingest_lines_per_s_per_core", base_per_core)
    put("agent.baseline_cat_ingest_peak_rss_bytes", base_rss)
    status = goal("agent", "agent memory < 30 MiB in steady state (RSS when idle after the run)",
                  fmt_bytes(agent_rss_now),
                  agent_rss_now is not None and agent_rss_now < 30 * 1024 * 1024)
    rows.append(["lines/s per core (agent CPU s)", fmt_int(per_core),
                 "`cat FILE | sawmill ingest`", fmt_int(base_per_core),
                 fmt_ratio(per_core / base_per_core if per_core and base_per_core else None), "—",
                 ""])
    rows.append(["lines/s (wall, until searchable)", fmt_int(AGENT_LINES / wall),
                 "`cat FILE | sawmill ingest`", fmt_int(base_lines_per_s),
                 fmt_ratio(base_wall / wall if base_wall else None), "—", ""])
    rows.append(["peak RSS", fmt_bytes(agent_rss), "`sawmill ingest`", fmt_bytes(base_rss),
                 fmt_ratio(agent_rss / base_rss if agent_rss and base_rss else None), "—", ""])
    rows.append(["RSS in steady state (idle after the run)", fmt_bytes(agent_rss_now), "—", "—",
                 "—", "< 30 MiB", status])
    notes.append("Wall time runs until the server answers `| count` with every line; CPU and "
                 "peak RSS are the agent's own (/proc/<pid>) and, for the baseline, the "
                 "`sawmill ingest` process's (wait4 rusage). Corpus NDJSON lines, agent rate "
                 "limit off.")
    emit_table(title, ["measure", "Sawmill agent", "baseline", "baseline figure", "ratio", "goal",
                       "status"], rows, notes)

