"""Area "engine": the in-process benchmarks of bench/ (bench_storage, bench_segment,
bench_query), their tables printed as they are."""

import os
import re
import shutil
import subprocess
import time

from benchlib.common import (BUILD, LINES, QUICK, SHARED, TABLES, WORK, goal, log, not_measured,
                             put, run)


ENGINE_TOOLS = [
    ("bench_storage", "Storage write path in-process (WAL group commit, memtable, flush, index)",
     ["--lines", "200000", "--real-lines", "20000"] if QUICK else []),
    ("bench_segment", "Segments in-process: bytes beside zstd, write and scan speed",
     None if QUICK else []),  # minutes of zstd -19 over every dataset: `make bench` only
    # Issue 14: bytes per tier (hot, warm, cold) beside zstd -3 / -19 for each real dataset and
    # the corpus ("{corpus}": its first 200,000 lines), goal warm <= zstd -19 on each, where the
    # warm bytes go, and the per-lever table. BENCH_TIERS_LINES changes the corpus lines.
    ("bench_segment", "Bytes per tier: hot, warm and cold beside zstd -3 and zstd -19",
     None if QUICK else ["--tiers", "--lines", os.environ.get("BENCH_TIERS_LINES", "200000"),
                         "--corpus", "{corpus}"], "bench_segment_tiers"),
    ("bench_query", "Query engine in-process: indexes on and off, single flight",
     ["--lines", "200000", "--runs", "5"] if QUICK else ["--lines", str(min(LINES, 2_000_000)),
                                                        "--runs", "10"]),
]


def run_area(corpus, manifest):
    for entry in ENGINE_TOOLS:
        tool, title, args = entry[:3]
        key = entry[3] if len(entry) > 3 else tool
        path = os.path.join(BUILD, "bench", tool)
        if args is None:
            not_measured(title, f"`{tool}` takes minutes; it runs in `make bench`, not in "
                                "`make bench-quick`")
            continue
        args = [corpus if a == "{corpus}" else a for a in args]
        workdir = os.path.join(WORK, tool)
        os.makedirs(workdir, exist_ok=True)
        log(f"engine: {tool} {' '.join(args)}")
        t = time.perf_counter()
        try:
            r = run([path, "--dir", workdir] + args, timeout=1800,
                    env={**os.environ, "SAWMILL_SHARED_DIR": SHARED})
        except subprocess.TimeoutExpired:
            not_measured(title, f"`{tool}` ran past 30 minutes")
            continue
        elapsed = time.perf_counter() - t
        # Their own log lines ("[2026-... [info] ...") are not part of the table.
        out = "\n".join(line for line in r.stdout.splitlines()
                        if not re.match(r"^\[\d{4}-\d\d-\d\d ", line)).strip()
        put(f"engine.{key}.exit_code", r.returncode)
        put(f"engine.{key}.seconds", elapsed)
        put(f"engine.{key}.output", out)
        if r.returncode != 0:
            not_measured(title, f"`{tool}` exited {r.returncode}: {r.stderr.strip()[-300:]}")
            continue
        if key == "bench_segment_tiers":
            tier_goals(out)
        if not any(line.startswith("|") for line in out.splitlines()):
            out = f"```text\n{out}\n```"  # plain columns: keep them aligned in markdown
        text = (f"### {title}\n\n`{tool} {' '.join(args)}` ({elapsed:.0f} s); its own table, "
                f"baselines and ratios:\n\n{out}\n")
        print(text, flush=True)
        TABLES.append(text)
        shutil.rmtree(workdir, ignore_errors=True)



def tier_goals(out):
    """One goal per dataset row of the tier table: warm bytes <= zstd -19 of the same raw bytes."""
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 10 or cells[-1] not in ("met", "missed"):
            continue
        name, z19, warm, ratio = cells[0], cells[4], cells[6], cells[8]
        goal("tiers", f"{name}: warm ≤ zstd -19 (issue 14)", f"{warm} vs {z19} bytes ({ratio}×)",
             cells[-1] == "met")
