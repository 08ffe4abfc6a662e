#!/usr/bin/env python3
"""Summarises `perf script -F comm,tid,ip,sym,dso` of a profiled ingest (bench/profile_ingest.sh)
by stage of the write path. Reads the script output on stdin.

Each sample goes to the innermost stage named on its call chain (walking from the function the
sample was taken in towards main): `memcmp` called by the row sort counts as the sort, zstd
called by the segment writer as compression, zstd called by the read-back check as the read-back.
A sample whose chain names no stage goes to "kernel" when it was taken in the kernel (epoll,
timers, thread switches, page copies outside a named stage), "libc and allocator" when in libc,
libstdc++ or jemalloc, else "other". A second table splits the samples by the library they were
taken in, the way issue 19's first profile was told.
"""

import argparse
import json
import re
import sys

# (stage, regex on the demangled function name). Checked in this order on each frame.
STAGES = [
    ("JSON parse (simdjson)", re.compile(r"simdjson")),
    ("WAL (encode, write, fdatasync)", re.compile(r"sawmill::wal::|WalManager|RecordBatch")),
    ("memtable insert", re.compile(r"MemtableSet::Insert|Memtable::Add|Memtable::Seal|"
                                   r"ApplyToMemtables|MemtableArena|RecordChunk")),
    ("row sort", re.compile(r"SortRows|SortedOrder")),
    ("index build", re.compile(r"sawmill::index::|BloomBuilder|WriteBloom|roaring")),
    ("segment read-back check", re.compile(r"SegmentReader|VerifySegment|Verify\b|ReadBack")),
    ("encode (columns)", re.compile(r"sawmill::segment::|EncodeStringColumn|EncodeDelta|"
                                    r"EncodeRle")),
    ("segment file write and sync", re.compile(r"sawmill::objstore::")),
    ("flush (copy records, catalog)", re.compile(r"Flusher|sqlite3|sawmill::catalog::")),
    ("normalise (ingest)", re.compile(r"sawmill::ingest::")),
    ("HTTP (parse, admit, respond)", re.compile(r"sawmill::http::|boost::beast|boost::asio")),
]
COMPRESS = "compress (zstd, lz4)"
KERNEL, LIBC, OTHER = "kernel (other)", "libc and allocator (other)", "other"
FRAME = re.compile(r"^\s*([0-9a-f]+)\s+(.*?)\s+\(([^()]*)\)\s*$")


def lib_of(dso, sym):
    d = dso.lower()
    if "kernel" in d:
        return "kernel"
    for name in ("zstd", "lz4", "simdjson", "jemalloc", "sqlite", "roaring", "xxhash", "re2"):
        if name in d:
            return name
    if "libc.so" in d or "libstdc++" in d or "libm.so" in d or "ld-linux" in d:
        return "libc, libstdc++"
    if d.endswith("/sawmill") or d == "sawmill":
        return "sawmill"
    return "other"


def stage_of(frames):
    """frames: [(sym, dso)], the sampled function first."""
    for sym, dso in frames:
        lib = lib_of(dso, sym)
        if lib in ("zstd", "lz4"):
            if re.search(r"ecompress|decode|Decode|_d[A-Z]", sym):
                continue  # decompression: the caller (read-back) decides
            # zstd under the WAL or the HTTP body decoder is theirs, not the segment's.
            for s2, _ in frames:
                for name, rx in STAGES[:2]:
                    if rx.search(s2):
                        return name
            return COMPRESS
        for name, rx in STAGES:
            if rx.search(sym):
                return name
    if not frames:
        return OTHER
    lib = lib_of(frames[0][1], frames[0][0])
    if lib == "kernel":
        return KERNEL
    if lib in ("libc, libstdc++", "jemalloc"):
        return LIBC
    return OTHER


def parse(stream):
    samples = []
    frames = None
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if frames is not None:
                samples.append(frames)
            frames = None
            continue
        if frames is None:
            frames = []  # the header line: comm tid
            continue
        m = FRAME.match(line)
        if m:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(2))
            frames.append((sym, m.group(3)))
    if frames is not None:
        samples.append(frames)
    return samples


def table(title, counts, total):
    rows = sorted(counts.items(), key=lambda kv: -kv[1])
    out = [f"| {title} | samples | share |", "|---|---:|---:|"]
    for name, n in rows:
        out.append(f"| {name} | {n:,} | {100.0 * n / total:.1f} % |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--tick", type=int, default=100)
    ap.add_argument("--cpu-ingest", type=int, default=0)
    ap.add_argument("--cpu-flush", type=int, default=0)
    ap.add_argument("--hwm-ingest-kib", type=int, default=0)
    ap.add_argument("--hwm-flush-kib", type=int, default=0)
    ap.add_argument("--ingest-json")
    ap.add_argument("--flush-json")
    ap.add_argument("--json")
    a = ap.parse_args()
    samples = parse(sys.stdin)
    total = len(samples) or 1
    stages, libs = {}, {}
    for frames in samples:
        s = stage_of(frames)
        stages[s] = stages.get(s, 0) + 1
        lib = lib_of(frames[0][1], frames[0][0]) if frames else "other"
        libs[lib] = libs.get(lib, 0) + 1
    cpu_ingest = a.cpu_ingest / a.tick
    cpu_flush = a.cpu_flush / a.tick
    per_million = (cpu_ingest + cpu_flush) / a.lines * 1e6
    ingest = json.load(open(a.ingest_json)) if a.ingest_json else {}
    result = {
        "lines": a.lines, "samples": len(samples),
        "cpu_s_ingest": cpu_ingest, "cpu_s_flush": cpu_flush,
        "cpu_s_per_million_lines": per_million,
        "peak_rss_mib_after_ingest": a.hwm_ingest_kib / 1024,
        "peak_rss_mib_after_flush": a.hwm_flush_kib / 1024,
        "ack_p50_ms": ingest.get("ack_p50_ms"), "ack_p99_ms": ingest.get("ack_p99_ms"),
        "stages": {k: v / total for k, v in stages.items()},
        "libraries": {k: v / total for k, v in libs.items()},
    }
    print(f"Server CPU: {cpu_ingest:.1f} s ingest + {cpu_flush:.1f} s flush = "
          f"{per_million:.1f} s per million lines; peak RSS {a.hwm_ingest_kib / 1024:.0f} MiB "
          f"after the ingest, {a.hwm_flush_kib / 1024:.0f} MiB after the flush; "
          f"{len(samples):,} samples at 499 Hz.\n")
    print(table("stage (innermost on the call chain)", stages, total))
    print()
    print(table("sampled in", libs, total))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
