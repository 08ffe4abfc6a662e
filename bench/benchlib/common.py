"""Configuration, shared state and small helpers of the benchmark runner (bench/run.py).

Every figure goes through put() into RESULTS (bench/results/latest.json), every table through
emit_table() into TABLES (latest.md), every goal through goal() into GOALS; STATE holds what
later areas reuse. Python 3 standard library only.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BENCH_BUILD_DIR", os.path.join(ROOT, "build"))
SAWMILL = os.path.join(BUILD, "sawmill")
GEN = os.path.join(BUILD, "bench", "bench_gen_corpus")
HTTP_TOOL = os.path.join(BUILD, "bench", "bench_http")
CORPUS_DIR = os.path.join(ROOT, "bench", "corpus")
RESULTS_DIR = os.path.join(ROOT, "bench", "results")
SHARED = os.environ.get("SAWMILL_SHARED_DIR", os.path.join(os.path.dirname(ROOT), "shared"))
REAL = os.path.join(SHARED, "data", "real")

LINES = int(os.environ.get("BENCH_LINES", "10000000"))
QUICK = LINES <= 1_000_000
DEFAULT_AREAS = "ingest,disk,query,storm,tail,agent,engine,alerts,noisy,tiers,profile,peers"
AREAS = [a for a in os.environ.get("BENCH_AREAS", DEFAULT_AREAS).split(",") if a]
KEEP = os.environ.get("BENCH_KEEP") == "1"
# Must match kCorpusGeneratorVersion in bench/corpus_generator.h.
GENERATOR_VERSION = 1

# How many times each query runs: Sawmill itself, the engine without indexes, and the
# command-line baselines (which read the whole corpus every time, so fewer runs).
QUERY_RUNS = int(os.environ.get("BENCH_QUERY_RUNS", "20"))
BRUTE_RUNS = int(os.environ.get("BENCH_BRUTE_RUNS", "3" if QUICK else "5"))
SHELL_RUNS = int(os.environ.get("BENCH_SHELL_RUNS", "3"))
# A slow query stops repeating after this many seconds (at least 5 runs).
QUERY_BUDGET_S = int(os.environ.get("BENCH_QUERY_BUDGET_S", "8" if QUICK else "30"))
STORM = int(os.environ.get("BENCH_STORM", "200"))
TAIL_SESSIONS = int(os.environ.get("BENCH_TAIL_SESSIONS", "2000"))
TAIL_RATE = int(os.environ.get("BENCH_TAIL_RATE", "50000"))
TAIL_SECONDS = int(os.environ.get("BENCH_TAIL_SECONDS", "10" if QUICK else "30"))
AGENT_LINES = int(os.environ.get("BENCH_AGENT_LINES", str(min(LINES, 200_000 if QUICK else 1_000_000))))
SMALL_LINES = int(os.environ.get("BENCH_SMALL_LINES", str(min(LINES, 1_000_000))))
# zstd -19 is slow (a few MB/s); above this size it compresses the first bytes only and scales.
ZSTD19_SAMPLE = int(os.environ.get("BENCH_ZSTD19_SAMPLE_BYTES", str(32 << 20)))

START = time.time()
WORK = tempfile.mkdtemp(prefix="sawmill-bench-")
RESULTS = {}  # nested, becomes latest.json
TABLES = []  # markdown, becomes latest.md
GOALS = []  # (area, goal, figure, met: True/False/None)
STATE = {}  # what later areas reuse: the corpus server's data directory

# Request parameters of the search API for the brute-force mode and the cache (see
# docs/performance.md).
NO_INDEX_PARAMS = {"use_indexes": "0"}
NO_CACHE_PARAMS = {"cache": "0"}



# --------------------------------------------------------------------------------------------
# small helpers

def log(msg):
    print(f"[bench {time.time() - START:6.1f}s] {msg}", file=sys.stderr, flush=True)


def put(path, value):
    """RESULTS["a"]["b"]["c"] = value for path "a.b.c"."""
    node = RESULTS
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def fmt_int(n):
    return "—" if n is None else f"{int(round(n)):,}"


def fmt_num(x, digits=1):
    if x is None:
        return "—"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def fmt_ratio(x):
    return "—" if x is None else (f"{x:,.2f}×" if x < 10 else f"{x:,.0f}×")


def fmt_bytes(n):
    if n is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024.0


def goal(area, text, figure, met):
    GOALS.append((area, text, figure, met))
    return "—" if met is None else ("met" if met else "**MISSED**")


def emit_table(title, header, rows, notes=()):
    def cell(c):
        return str(c).replace("|", "\\|")

    lines = [f"### {title}", "", "| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    for note in notes:
        lines.append("")
        lines.append(note)
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    TABLES.append(text)


def not_measured(title, why):
    emit_table(title, ["measure", "Sawmill", "baseline", "ratio"],
               [["—", f"not measured: {why}", "—", "—"]])


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def run_json(cmd, timeout=None):
    r = run(cmd, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{os.path.basename(cmd[0])} {cmd[1] if len(cmd) > 1 else ''} failed "
                           f"({r.returncode}): {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def percentile(samples, p):
    if not samples:
        return None
    s = sorted(samples)
    rank = max(1, min(len(s), int(-(-p * len(s) // 1))))
    return s[rank - 1]


def timed_shell(command, runs):
    """Wall times in ms of `bash -c command`, run "runs" times."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(["bash", "-o", "pipefail", "-c", command], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        elapsed = (time.perf_counter() - t) * 1000
        if r.returncode not in (0, 1):  # rg exits 1 when nothing matched
            raise RuntimeError(f"baseline failed ({r.returncode}): {command}: {r.stderr[-300:]}")
        times.append(elapsed)
    return times


def dir_bytes(path, exclude=()):
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        if rel.split(os.sep)[0] in exclude:
            continue
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def proc_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


def cpu_model():
    """The CPU's model name from /proc/cpuinfo ("" when it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settle(data_dir, timeout=10.0):
    """Waits until the segment files stop changing (background compaction done), at most
    "timeout" seconds; returns the seconds waited."""
    t = time.time()
    last, same = None, 0
    while time.time() - t < timeout:
        now = dir_bytes(os.path.join(data_dir, "segments"))
        same = same + 1 if now == last else 0
        if same >= 2:
            break
        last = now
        time.sleep(0.5)
    return time.time() - t


def disk_bytes(data_dir):
    """Segments, index and catalog; the WAL is left out (it is deleted once flushed)."""
    return dir_bytes(data_dir, exclude=("wal",)), dir_bytes(os.path.join(data_dir, "wal"))
