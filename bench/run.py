#!/usr/bin/env python3
"""The benchmark orchestrator behind bench/run.sh (`make bench`, `make bench-quick`).

Each area (one module of bench/areas/) runs on a fresh `sawmill server` (free loopback port,
temporary data directory), prints one markdown table with Sawmill's figure, the baseline's and
the ratio, and adds its figures to bench/results/latest.json. An area that fails prints
"not measured: <why>" and the run goes on. Shared helpers: bench/benchlib/. Python 3 standard
library only.
"""

import json
import os
import platform
import shutil
import sys
import time
import traceback

from areas import (agent, alerts, disk, engine, ingest, noisy, peers, profile, query, storm, tail,
                   tiers)
from areas.engine import ENGINE_TOOLS
from benchlib.common import (AREAS, BUILD, GEN, GOALS, HTTP_TOOL, KEEP, LINES, QUICK, RESULTS,
                             RESULTS_DIR, ROOT, SAWMILL, START, TABLES, WORK, cpu_model, emit_table,
                             fmt_bytes, log, not_measured, run)
from benchlib.corpus import ensure_corpus

def machine():
    cpu = cpu_model() or platform.processor()
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    rev = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_bytes": mem,
            "kernel": platform.release(), "git": rev,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(START)),
            "load_average_at_start": os.getloadavg()[0]}


def main():
    # Every program the areas run is part of the normal build (`make bench` builds first).
    programs = [SAWMILL, GEN, HTTP_TOOL] + [os.path.join(BUILD, "bench", tool)
                                            for tool, *_ in ENGINE_TOOLS]
    missing = [p for p in programs if not os.access(p, os.X_OK)]
    if missing:
        print(f"bench: not built: {', '.join(missing)}; run `make build` (or `make bench`)",
              file=sys.stderr)
        shutil.rmtree(WORK, ignore_errors=True)
        return 1
    info = machine()
    RESULTS["machine"] = info
    RESULTS["lines"] = LINES
    header = (f"## Sawmill benchmarks — {LINES:,} corpus lines\n\n"
              f"{info['date']}, commit {info['git']}, {info['nproc']} cores ({info['cpu']}), "
              f"{fmt_bytes(info['memory_bytes'])} memory, load average at start "
              f"{info['load_average_at_start']:.1f}.\n")
    print(header, flush=True)
    TABLES.append(header)
    try:
        corpus, manifest = ensure_corpus(LINES)
    except Exception as e:
        print(f"bench: no corpus, nothing to measure: {e}", file=sys.stderr)
        return 1
    RESULTS["corpus"] = {k: manifest[k] for k in ("lines", "bytes", "xxh3", "generator_version")}
    areas = {"ingest": ingest.run_area, "disk": disk.run_area, "query": query.run_area,
             "storm": storm.run_area, "tail": tail.run_area, "agent": agent.run_area,
             "engine": engine.run_area, "alerts": alerts.run_area,
             "noisy": noisy.run_area, "tiers": tiers.run_area, "profile": profile.run_area,
             "peers": peers.run_area}
    for name in AREAS:
        fn = areas.get(name)
        if fn is None:
            log(f"unknown area '{name}' skipped")
            continue
        t = time.perf_counter()
        try:
            fn(corpus, manifest)
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            not_measured(f"{name}", f"{type(e).__name__}: {e}")
            RESULTS.setdefault(name, {})["error"] = str(e)
        log(f"{name}: {time.perf_counter() - t:.0f} s")

    total = time.time() - START
    RESULTS["total_seconds"] = total
    rows = [[area, text, figure, "—" if met is None else ("met" if met else "**MISSED**")]
            for area, text, figure, met in GOALS]
    if QUICK:
        rows.append(["run", "`make bench-quick` under 5 minutes", f"{total:.0f} s",
                     "met" if total < 300 else "**MISSED**"])
    emit_table("Goals", ["area", "goal", "figure", "status"], rows)
    RESULTS["goals"] = [{"area": a, "goal": g, "figure": f, "met": m} for a, g, f, m in GOALS]
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(os.path.join(RESULTS_DIR, "latest.json"), "w") as f:
        json.dump(RESULTS, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(RESULTS_DIR, "latest.md"), "w") as f:
        f.write("\n".join(TABLES))
    log(f"done in {total:.0f} s; wrote bench/results/latest.json and latest.md")
    if KEEP:
        log(f"kept {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())