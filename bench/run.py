#!/usr/bin/env python3
"""The benchmark orchestrator behind bench/run.sh (`make bench`, `make bench-quick`).

Each area runs on a fresh `sawmill server` (free loopback port, temporary data directory),
prints one markdown table with Sawmill's figure, the baseline's and the ratio, and adds its
figures to bench/results/latest.json. An area whose component is missing prints
"not measured: <why>" and the run goes on; the script never fails because one area is missing.
Python 3 standard library only.
"""

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
AREAS = [a for a in os.environ.get("BENCH_AREAS", "ingest,disk,query,storm,tail,agent,engine")
         .split(",") if a]
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


def sawmill_help():
    try:
        r = run([SAWMILL, "--help"], timeout=30)
        return r.stdout + r.stderr
    except (OSError, subprocess.TimeoutExpired):
        return ""


def has_subcommand(name):
    return re.search(rf"^\s+{re.escape(name)}\b", sawmill_help(), re.M) is not None


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# the server

class Server:
    """One `sawmill server` on a free loopback port."""

    def __init__(self, name, data_dir=None, args=()):
        self.name = name
        self.data = data_dir or os.path.join(WORK, f"data-{name}")
        os.makedirs(self.data, exist_ok=True)
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.addr}"
        self.log_path = os.path.join(WORK, f"server-{name}.log")
        extra = os.environ.get("BENCH_SERVER_ARGS", "").split()
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [SAWMILL, "server", "--data", self.data, "--http", self.addr] + list(args) + extra,
            stdout=self.log_file, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} at start: "
                                   f"{self.log_tail()}")
            try:
                if self.get("/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server not ready after 120 s: " + self.log_tail())

    def log_tail(self, n=600):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace").strip()
        except OSError:
            return ""

    def request(self, method, path, body=None, timeout=600, headers=None):
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path, timeout=600):
        return self.request("GET", path, timeout=timeout)

    def post(self, path, body=b"", timeout=600):
        return self.request("POST", path, body=body, timeout=timeout)

    def cpu_seconds(self):
        return proc_cpu_seconds(self.proc.pid)

    def peak_rss(self):
        return proc_peak_rss(self.proc.pid)

    def flush(self):
        status, body = self.post("/api/v1/admin/flush")
        if status != 200:
            raise RuntimeError(f"flush answered {status}: {body[:300]!r}")

    def compact(self):
        """Asks for a compaction if the server has the endpoint; returns what happened."""
        for path in ("/api/v1/admin/compact",):
            status, body = self.post(path)
            if status == 200:
                return "compacted (POST " + path + ")"
            if status not in (404, 405):
                return f"compaction answered {status}: {body[:200]!r}"
        return "no compaction endpoint: measured after flush"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def search_target(q, **params):
    params = {"q": q, "all_time": "1", **params}
    return "/api/v1/search?" + urllib.parse.urlencode(params)


# --------------------------------------------------------------------------------------------
# the corpus and the real datasets

def ensure_corpus(lines, max_line_bytes=0):
    """The corpus file and its manifest, generated once and reused while N and the generator
    version match. "max_line_bytes" > 0: the fixed-size-lines variant (a separate file)."""
    os.makedirs(CORPUS_DIR, exist_ok=True)
    stem = f"corpus-{lines}" if not max_line_bytes else f"lines{max_line_bytes}-{lines}"
    path = os.path.join(CORPUS_DIR, stem + ".ndjson")
    manifest_path = path + ".manifest.json"
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
        if (manifest.get("generator_version") == GENERATOR_VERSION and
                manifest.get("lines") == lines and os.path.getsize(path) == manifest.get("bytes")):
            log(f"corpus: reusing {path}")
            return path, manifest
    except (OSError, ValueError):
        pass
    log(f"corpus: generating {lines:,} lines into {path}")
    cmd = [GEN, "--lines", str(lines), "--out", path, "--data", REAL]
    if max_line_bytes:
        cmd += ["--max-line-bytes", str(max_line_bytes)]
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError("bench_gen_corpus failed: " + r.stderr.strip())
    with open(manifest_path) as f:
        return path, json.load(f)


def dataset_files(name):
    out = []
    for dirpath, _, filenames in os.walk(os.path.join(REAL, name)):
        for fn in filenames:
            if fn == "LICENSE" or fn.endswith("_structured.csv") or fn.endswith("_templates.csv"):
                continue
            out.append(os.path.join(dirpath, fn))
    return sorted(out)


def datasets():
    try:
        return sorted(d for d in os.listdir(REAL) if os.path.isdir(os.path.join(REAL, d)))
    except OSError:
        return []


def dataset_raw(name):
    """One file with the dataset's files, each ending in a newline."""
    path = os.path.join(WORK, "raw", name + ".log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = 0
    with open(path, "wb") as dst:
        for fn in dataset_files(name):
            with open(fn, "rb") as src:
                data = src.read()
            if data and not data.endswith(b"\n"):
                data += b"\n"
            lines += data.count(b"\n")
            dst.write(data)
    return path, lines


# zstd sizes depend only on the bytes, so they are cached by (name, size, hash of the head).
BASELINE_CACHE = os.path.join(CORPUS_DIR, "zstd-sizes.json")


def zstd_sizes(path, key):
    try:
        with open(BASELINE_CACHE) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    size = os.path.getsize(path)
    full_key = f"{key}:{size}"
    if full_key in cache:
        return cache[full_key]["zstd3"], cache[full_key]["zstd19"], cache[full_key]["zstd19_note"]
    log(f"zstd -3 and -19 of {os.path.basename(path)} ({fmt_bytes(size)})")
    z3 = int(run(["bash", "-c", f"zstd -3 -q -c '{path}' | wc -c"]).stdout)
    if size > ZSTD19_SAMPLE:
        # Four evenly spaced chunks, compressed together, stand for the whole file.
        chunk = ZSTD19_SAMPLE // 4
        step = (size - chunk) // 3
        parts = "; ".join(f"tail -c +{i * step + 1} '{path}' | head -c {chunk}" for i in range(4))
        sample = int(run(["bash", "-c", f"{{ {parts}; }} | zstd -19 -q -c | wc -c"]).stdout)
        z19 = int(sample * size / (4 * chunk))
        note = f"estimated from 4 evenly spaced chunks, {fmt_bytes(4 * chunk)} in all"
    else:
        z19 = int(run(["bash", "-c", f"zstd -19 -q -c '{path}' | wc -c"]).stdout)
        note = ""
    cache[full_key] = {"zstd3": z3, "zstd19": z19, "zstd19_note": note}
    os.makedirs(CORPUS_DIR, exist_ok=True)
    with open(BASELINE_CACHE, "w") as f:
        json.dump(cache, f, indent=1, sort_keys=True)
    return z3, z19, note


def corpus_zst(corpus):
    """zstd -3 of the corpus, for the `zstdcat | rg` baseline (kept beside the corpus)."""
    path = corpus + ".zst"
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(corpus):
        log("compressing the corpus with zstd -3 for the zstdcat baseline")
        tmp = path + ".tmp"
        r = run(["zstd", "-3", "-q", "-f", "-o", tmp, corpus])
        if r.returncode != 0:
            raise RuntimeError("zstd failed: " + r.stderr)
        os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------------------------
# area: ingestion over HTTP

STATE = {}  # what later areas reuse: the corpus server's data directory


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


def area_ingest(corpus, manifest):
    title = f"Ingestion over HTTP (8 clients, batches of 1,000 lines, {LINES:,} corpus lines)"
    if not has_subcommand("server"):
        return not_measured(title, "`sawmill server` is not built yet")
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


# --------------------------------------------------------------------------------------------
# area: bytes on disk

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


def area_disk(corpus, manifest):
    title = "Bytes on disk after flush and compaction, beside zstd of the same raw bytes"
    header = ["dataset", "raw", "Sawmill", "Sawmill ÷ raw", "zstd -3", "Sawmill ÷ zstd -3",
              "zstd -19", "Sawmill ÷ zstd -19", "ingest lines/s/core", "≤ zstd -3"]
    rows = []
    notes = []
    server_built = has_subcommand("server")
    if not server_built:
        notes.append("Sawmill: not measured: `sawmill server` is not built yet (baselines only).")

    def row(name, raw_path, raw_bytes, ours, per_core):
        z3, z19, note = zstd_sizes(raw_path, name)
        put(f"disk.raw_bytes.{name}", raw_bytes)
        put(f"disk.zstd3_per_raw_byte.{name}", z3 / raw_bytes)
        put(f"disk.zstd19_per_raw_byte.{name}", z19 / raw_bytes)
        if note:
            notes.append(f"{name}: zstd -19 {note}.")
        if ours is None:
            put(f"disk.bytes_per_raw_byte.{name}", None)
            rows.append([name, fmt_bytes(raw_bytes), "not measured", "—", fmt_bytes(z3), "—",
                         fmt_bytes(z19), "—", "—", "—"])
            return
        put(f"disk.bytes_per_raw_byte.{name}", ours / raw_bytes)
        put(f"disk.bytes.{name}", ours)
        status = goal("disk", f"{name}: on disk ≤ zstd -3 of the raw text",
                      f"{ours / z3:.2f}× zstd -3", ours <= z3)
        rows.append([name, fmt_bytes(raw_bytes), fmt_bytes(ours), f"{ours / raw_bytes:.3f}",
                     fmt_bytes(z3), fmt_ratio(ours / z3), fmt_bytes(z19), fmt_ratio(ours / z19),
                     fmt_int(per_core), status])

    for name in datasets():
        raw_path, lines = dataset_raw(name)
        raw_bytes = os.path.getsize(raw_path)
        ours = per_core = None
        if server_built:
            try:
                server = Server("disk-" + name)
                try:
                    log(f"disk: {name} ({lines:,} lines)")
                    r = ingest_file(server, raw_path, query="?" + urllib.parse.urlencode(
                        {"service": name}))
                    per_core = r["lines_acked"] / r["cpu_s"] if r["cpu_s"] > 0 else None
                    server.flush()
                    server.compact()
                    settle(server.data)
                finally:
                    server.stop()
                ours, _ = disk_bytes(server.data)
                if r["errors"]:
                    notes.append(f"{name}: {r['errors']} batches failed: {r['first_error']}")
            except Exception as e:  # one dataset must not stop the others
                notes.append(f"{name}: not measured: {e}")
        row(name, raw_path, raw_bytes, ours, per_core)

    ours = None
    if "corpus_data" in STATE:
        ours, wal = disk_bytes(STATE["corpus_data"])
        notes.append(f"corpus: WAL left after flush {fmt_bytes(wal)} (not counted).")
    elif server_built:
        notes.append("corpus: not measured: the ingest area did not run or failed.")
    row("corpus", corpus, os.path.getsize(corpus), ours, RESULTS.get("ingest", {}).get(
        "lines_per_s_per_core"))
    notes.append("Sawmill = every file of the data directory except `wal/` (segments, index, "
                 "blooms, catalog), after `POST /api/v1/admin/flush`, `POST /api/v1/admin/compact` "
                 "and once the segment files stopped changing. Datasets are "
                 "ingested as their files' lines over HTTP, one fresh server each.")
    emit_table(title, header, rows, notes)


# --------------------------------------------------------------------------------------------
# areas: queries and the search storm

# Request parameters of the search API for the brute-force mode and the cache (checked in
# src/http when it landed; see docs/performance.md).
NO_INDEX_PARAMS = {"use_indexes": "0"}
NO_CACHE_PARAMS = {"cache": "0"}


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


def area_query(corpus, manifest):
    title = f"Queries on {LINES:,} lines, hot, after flush (median and p95 over {QUERY_RUNS} runs)"
    queries = query_set(manifest)
    zst = corpus_zst(corpus)
    server = None
    why = None
    if not has_subcommand("server"):
        why = "`sawmill server` is not built yet"
    elif "corpus_data" not in STATE:
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
                if name in ("trace_needle", "rare_word"):
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


def area_storm(corpus, manifest):
    title = f"Search storm: {STORM} identical concurrent queries vs one"
    if not has_subcommand("server"):
        return not_measured(title, "`sawmill server` is not built yet")
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
    notes.append(f"The large-answer row (distinct `limit` values keep it out of the cache) shows "
                 "the cost of writing 200 large answers, which single flight cannot share.")
    emit_table(title, ["measure", "Sawmill", "baseline", "baseline figure", "ratio", "goal",
                       "status"],
               [[f"{STORM} concurrent: time to the last answer (ms)", fmt_num(s["wall_ms"]),
                 "one query alone (median of 3, ms)", fmt_num(single), fmt_ratio(ratio),
                 "< 1.5×", status],
                [f"same, `{big_q}` (large answer)", fmt_num(bw["wall_ms"]), "one query alone",
                 fmt_num(bs["p50_ms"] if bs["ok"] else None), fmt_ratio(big_ratio), "—", ""]],
               notes)


# --------------------------------------------------------------------------------------------
# area: live tail

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


def area_tail(corpus, manifest):
    title = (f"Live tail: {TAIL_SESSIONS:,} sessions with mixed filters while ingesting "
             f"{TAIL_RATE:,} lines/s for {TAIL_SECONDS} s")
    if not has_subcommand("server"):
        return not_measured(title, "`sawmill server` is not built yet")
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


# --------------------------------------------------------------------------------------------
# area: the agent

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


def area_agent(corpus, manifest):
    title = f"Agent: tailing a file of {AGENT_LINES:,} lines and shipping to a local server"
    if not has_subcommand("server"):
        return not_measured(title, "`sawmill server` is not built yet")
    if not has_subcommand("agent"):
        return not_measured(title, "`sawmill agent` is not built yet")
    adir = os.path.join(WORK, "agent")
    os.makedirs(os.path.join(adir, "spool"), exist_ok=True)
    app_log = os.path.join(adir, "app.log")
    with open(corpus, "rb") as src, open(app_log, "wb") as dst:
        for i, line in enumerate(src):
            if i >= AGENT_LINES:
                break
            dst.write(line)
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

    if not has_subcommand("ingest"):
        base_cpu = base_wall = base_rss = None
        notes.append("Baseline not measured: `sawmill ingest` is not built yet.")
    else:
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


# --------------------------------------------------------------------------------------------
# area: the in-process benchmarks other components keep in bench/ (tables printed as they are)

ENGINE_TOOLS = [
    ("bench_storage", "Storage write path in-process (WAL group commit, memtable, flush, index)",
     ["--lines", "200000", "--real-lines", "20000"] if QUICK else []),
    ("bench_segment", "Segments in-process: bytes beside zstd, write and scan speed",
     None if QUICK else []),  # minutes of zstd -19 over every dataset: `make bench` only
    ("bench_query", "Query engine in-process: indexes on and off, single flight",
     ["--lines", "200000", "--runs", "5"] if QUICK else ["--lines", str(min(LINES, 2_000_000)),
                                                        "--runs", "10"]),
]


def area_engine(corpus, manifest):
    for tool, title, args in ENGINE_TOOLS:
        path = os.path.join(BUILD, "bench", tool)
        if args is None:
            not_measured(title, f"`{tool}` takes minutes; it runs in `make bench`, not in "
                                "`make bench-quick`")
            continue
        if not os.path.exists(path):
            not_measured(title, f"`{tool}` is not built")
            continue
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
        put(f"engine.{tool}.exit_code", r.returncode)
        put(f"engine.{tool}.seconds", elapsed)
        put(f"engine.{tool}.output", out)
        if r.returncode != 0:
            not_measured(title, f"`{tool}` exited {r.returncode}: {r.stderr.strip()[-300:]}")
            continue
        if not any(line.startswith("|") for line in out.splitlines()):
            out = f"```text\n{out}\n```"  # plain columns: keep them aligned in markdown
        text = (f"### {title}\n\n`{tool} {' '.join(args)}` ({elapsed:.0f} s); its own table, "
                f"baselines and ratios:\n\n{out}\n")
        print(text, flush=True)
        TABLES.append(text)
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------

def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
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
    areas = {"ingest": area_ingest, "disk": area_disk, "query": area_query, "storm": area_storm,
             "tail": area_tail, "agent": area_agent, "engine": area_engine}
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
