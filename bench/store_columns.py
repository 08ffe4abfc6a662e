"""Where a store's bytes go: `sawmill segment dump` summed over every segment of a data
directory, bytes per column (stored and raw), inverted index, bloom and index kind, and per line
(issue 19; docs/performance.md "Bytes at 10,000,000 lines").

usage: python3 bench/store_columns.py SAWMILL DATA_DIR [LINES]"""
import collections, glob, os, re, subprocess, sys
saw, data = sys.argv[1], sys.argv[2]
segs = sorted(glob.glob(os.path.join(data, "segments", "**", "*.seg"), recursive=True))
tot = collections.Counter(); rows = 0; disk = 0; nblocks = 0
for s in segs:
    out = subprocess.run([saw, "segment", "dump", s], capture_output=True, text=True).stdout
    sec = None
    for line in out.splitlines():
        m = re.match(r"\s+format version \d+, (\d+) bytes on disk", line)
        if m: disk += int(m.group(1))
        m = re.match(r"\s+id \d+, .* (\d+) rows in (\d+) blocks", line)
        if m: rows += int(m.group(1)); nblocks += int(m.group(2))
        if line.startswith("columns:"): sec = "col"; continue
        if line.startswith("index:"): sec = "idx"; continue
        if line.startswith("blooms:"): sec = "bloom"; continue
        if line.startswith("index kinds:"): sec = "kind"; continue
        if line.startswith("first"): sec = None
        if sec == "col":
            m = re.match(r"\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)", line)
            if m: tot["col " + m.group(1)] += int(m.group(3)); tot["raw " + m.group(1)] += int(m.group(4))
        elif sec == "idx":
            m = re.match(r"\s+(\S+)\s+(\d+) values\s+(\d+) bytes", line)
            if m: tot["index " + m.group(1)] += int(m.group(3))
        elif sec == "bloom":
            m = re.match(r"\s+(\S+)\s+\d+ distinct tokens, segment filter (\d+) bytes, block filters (\d+) bytes", line)
            if m: tot["bloom seg " + m.group(1)] += int(m.group(2)); tot["bloom blk " + m.group(1)] += int(m.group(3))
        elif sec == "kind":
            m = re.match(r"\s+(\S+)\s+version \d+\s+(\d+) bytes", line)
            if m: tot["kind " + m.group(1)] += int(m.group(2))
lines = int(sys.argv[3]) if len(sys.argv) > 3 else rows
known = sum(v for k, v in tot.items() if not k.startswith("raw "))
print(f"{len(segs)} segments, {rows} rows, {nblocks} blocks, {disk} bytes on disk ({disk/lines:.2f} a line)")
for k, v in sorted(tot.items(), key=lambda kv: -kv[1]):
    if k.startswith("raw ") or v == 0: continue
    raw = tot.get("raw " + k[4:], 0) if k.startswith("col ") else 0
    print(f"  {k:28s} {v:>12,d}  {v/lines:6.2f} B/line" + (f"  raw {raw/lines:6.2f}" if raw else ""))
print(f"  {'(footers, headers, rest)':28s} {disk-known:>12,d}  {(disk-known)/lines:6.2f} B/line")
