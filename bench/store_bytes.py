"""The peers area's Sawmill steps alone, for one build (issue 19, bytes on disk): a fresh server
fed bench/corpus/corpus-N.ndjson by the peers' sender (8 connections, batches of 1,000 lines),
flush, compact, settle, restart; prints the store's bytes (segments and catalog, no WAL) and the
server's CPU seconds over ingest and over flush + compaction, and keeps the data directory for
bench/store_columns.py. docs/performance.md "Bytes at 10,000,000 lines".

usage: BENCH_BUILD_DIR=BUILD BENCH_LINES=N python3 bench/store_bytes.py OUTDIR"""
import json, os, sys, time
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib.common import disk_bytes
from benchlib.server import Server
from peers.common import line_batches, send_batches, settle_dir

lines = int(os.environ["BENCH_LINES"])
corpus = os.path.join(HERE, "corpus", f"corpus-{lines}.ndjson")
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
data = os.path.join(out, "data")
srv = Server("probe", data)
cpu0 = srv.cpu_seconds()
t0 = time.time()
host, port = srv.addr.split(":")
r = send_batches(host, int(port), "/api/v1/ingest", corpus, line_batches(corpus),
                 headers={"Content-Type": "application/x-ndjson"})
assert not r["errors"], r
cpu_ingest = srv.cpu_seconds() - cpu0
peak = srv.peak_rss()
t1 = time.time()
srv.flush()
# (Not srv.compact(): its request gives up after 600 s, and under the shared machine's load a
# 10 M store's compaction takes longer.)
status, body = srv.post("/api/v1/admin/compact", timeout=7200)
assert status == 200, (status, body[:200])
settle_dir(lambda: disk_bytes(srv.data)[0], timeout=600, quiet_s=3)
cpu_all = srv.cpu_seconds() - cpu0
t2 = time.time()
srv.stop()
srv = Server("probe", data)
b = disk_bytes(data)[0]
srv.stop()
res = {"lines": lines, "bytes": b, "mib": b / 2**20, "bytes_per_line": b / lines,
       "cpu_ingest": cpu_ingest, "cpu_persist": cpu_all - cpu_ingest, "cpu_per_m": cpu_all / (lines / 1e6),
       "peak_rss_mib": peak / 2**20, "ingest_s": t1 - t0, "persist_s": t2 - t1,
       "build": os.environ.get("BENCH_BUILD_DIR")}
print(json.dumps(res))
with open(os.path.join(out, "result.json"), "w") as f: json.dump(res, f)
