"""Area "tiers": query latency over cold data in a real S3 store (OpenStack Swift's s3api on
loopback, started here through scripts/s3-test-store.sh) the first time (byte ranges fetched) and
the second time (from the local cold cache), beside the same query on hot data; and transition
throughput (MB/s of segment bytes) hot -> warm (re-encoding) and warm -> cold (upload to S3).

`BENCH_TIERS_LINES` (default min(BENCH_LINES, 200,000)) corpus lines are ingested into one server
with an S3 cold store; every query runs with the result cache off (`cache=0`). "First" is a fresh
server process with an empty cold cache for every query (so the footer and the blocks the plan
needs are fetched from S3 once); "second" is the same query again on that process.
"""

import json
import os
import shutil
import statistics
import sys
import time
import urllib.parse

from benchlib.common import ROOT, SHARED, WORK, emit_table, fmt_bytes, fmt_num, log, put, run
from benchlib.corpus import corpus_head
from benchlib.server import Server

from areas.ingest import ingest_file

TIERS_LINES = int(os.environ.get("BENCH_TIERS_LINES", "0")) or None
QUERIES = [
    ("exact field", "level=ERROR | count"),
    ("word", "timeout"),
    ("service + word", "service=payments error"),
    ("count by", "* | count by service"),
]
HOT_RUNS = 5


def s3_env(store_dir):
    out = run(["bash", os.path.join(SHARED, "scripts", "s3-swift.sh"), "env", store_dir])
    env = {}
    for line in out.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line[len("export "):].split("=", 1)
            env[name] = value.strip("'")
    if "AWS_ENDPOINT_URL" not in env:
        raise RuntimeError("no S3 endpoint from s3-swift.sh env: " + out.stderr[-300:])
    return env


def search_ms(server, q):
    """Wall time of one search (ms) and its stats."""
    target = "/api/v1/search?" + urllib.parse.urlencode(
        {"q": q, "all_time": "1", "cache": "0", "limit": "100"})
    t = time.perf_counter()
    status, body = server.get(target)
    ms = (time.perf_counter() - t) * 1000
    if status != 200:
        raise RuntimeError(f"search {q!r}: {status} {body[:300]!r}")
    return ms, json.loads(body).get("stats", {})


def tiers(server):
    status, body = server.get("/api/v1/admin/tiers")
    if status != 200:
        raise RuntimeError(f"tiers: {status} {body[:300]!r}")
    return {t["tier"]: t for t in json.loads(body)["tiers"] if not t.get("tenant")}


def move(server, to):
    t = time.perf_counter()
    status, body = server.post("/api/v1/admin/tiers/move?" + urllib.parse.urlencode(
        {"older_than": "0s", "to": to}))
    seconds = time.perf_counter() - t
    if status != 200:
        raise RuntimeError(f"tiers move to {to}: {status} {body[:300]!r}")
    return seconds, json.loads(body)


def run_area(corpus, manifest):
    title = "Tiers: query latency on hot and on cold (S3) data, and transition throughput"
    lines = TIERS_LINES or min(manifest["lines"], 200_000)
    part = corpus_head(corpus, lines, os.path.join(WORK, "tiers-corpus.ndjson"))
    store_dir = os.path.join(WORK, "s3-store")
    script = os.path.join(ROOT, "scripts", "s3-test-store.sh")
    started = run(["bash", script, "start", store_dir])
    if started.returncode != 0:
        raise RuntimeError("the S3 store did not start: " + started.stderr[-400:])
    notes = []
    try:
        env = s3_env(store_dir)
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        # The bucket, created through the e2e helper's signed PUT.
        sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
        from e2e_cold_store_test import create_bucket  # pylint: disable=import-outside-toplevel
        create_bucket(env, "sawmill-bench")
        data = os.path.join(WORK, "data-tiers")
        args = ["--cold-store", "s3://sawmill-bench/tiers", "--tier-interval", "0",
                "--compaction", "off", "--warm-after", "0", "--cold-after", "0"]
        server = Server("tiers", data_dir=data, args=args)
        try:
            log(f"tiers: ingest {lines:,} corpus lines")
            ingest_file(server, part)
            server.flush()
            hot = {}
            for name, q in QUERIES:
                search_ms(server, q)  # page cache warm, as a hot query usually is
                hot[name] = statistics.median(search_ms(server, q)[0] for _ in range(HOT_RUNS))
            before = tiers(server)
            hot_bytes = before["hot"]["bytes"]
            log("tiers: move to warm")
            warm_s, warm_report = move(server, "warm")
            warm_bytes = tiers(server)["warm"]["bytes"]
            log("tiers: move to cold (upload to S3)")
            cold_s, cold_report = move(server, "cold")
            after = tiers(server)
            cold_bytes = after["cold"]["bytes"]
            segments = after["cold"]["segments"]
        finally:
            server.stop()
        # First and second time: a fresh process and an empty cold cache for each query.
        first, second, fetched = {}, {}, {}
        for name, q in QUERIES:
            shutil.rmtree(os.path.join(data, "cold-cache"), ignore_errors=True)
            server = Server("tiers-cold", data_dir=data, args=args)
            try:
                first[name], stats = search_ms(server, q)
                fetched[name] = stats.get("cold_bytes_fetched", 0)
                second[name], stats2 = search_ms(server, q)
                if stats2.get("cold_bytes_fetched", 0) != 0:
                    notes.append(f"{name}: the second search still fetched "
                                 f"{stats2['cold_bytes_fetched']} bytes from S3")
            finally:
                server.stop()
    finally:
        run(["bash", script, "stop", store_dir])

    rows = []
    for name, q in QUERIES:
        rows.append([name, f"`{q}`", fmt_num(hot[name], 1), fmt_num(first[name], 1),
                     fmt_bytes(fetched[name]), fmt_num(second[name], 1),
                     fmt_num(first[name] / hot[name], 1) + "×",
                     fmt_num(second[name] / hot[name], 1) + "×"])
        put(f"tiers.query_ms.hot.{name}", hot[name])
        put(f"tiers.query_ms.cold_first.{name}", first[name])
        put(f"tiers.query_ms.cold_second.{name}", second[name])
        put(f"tiers.cold_bytes_fetched.{name}", fetched[name])
    emit_table(title, ["query", "q", "hot ms", "cold first ms", "fetched", "cold second ms",
                       "first ÷ hot", "second ÷ hot"], rows)
    mb = 1 << 20
    trows = [
        ["hot → warm (re-encode, local)", fmt_bytes(warm_report.get("bytes_read", hot_bytes)),
         fmt_bytes(warm_bytes), f"{warm_s:.2f}",
         fmt_num(warm_report.get("bytes_read", hot_bytes) / mb / warm_s, 1)],
        ["warm → cold (upload to S3, verify)", fmt_bytes(cold_bytes), fmt_bytes(cold_bytes),
         f"{cold_s:.2f}", fmt_num(cold_bytes / mb / cold_s, 1)],
    ]
    put("tiers.transition_mb_per_s.to_warm", warm_report.get("bytes_read", hot_bytes) / mb / warm_s)
    put("tiers.transition_mb_per_s.to_cold", cold_bytes / mb / cold_s)
    put("tiers.segments", segments)
    notes += [
        f"{lines:,} corpus lines, {segments} segments; hot {fmt_bytes(hot_bytes)}, warm "
        f"{fmt_bytes(warm_bytes)}, cold {fmt_bytes(cold_bytes)}.",
        "hot ms: median of 5 after one warm-up; cold first: a fresh server with an empty cold "
        "cache per query; second: the same query again (ranges from the cold cache). Every "
        "search with `cache=0` (no result cache).",
        "S3 = OpenStack Swift with s3api on loopback (scripts/s3-test-store.sh): no network "
        "latency; a real remote store adds its round trips to 'cold first'.",
        "Transition MB/s = source segment bytes / wall time of `POST /api/v1/admin/tiers/move` "
        "(to cold: upload, read back from S3 past the cache and verify, catalog commit).",
    ]
    emit_table("Tiers: transition throughput", ["transition", "bytes in", "bytes out", "seconds",
                                                "MB/s"], trows, notes)
