"""`make bench-cluster` (bench/cluster_bench.sh): cluster nodes on this machine, with 1, 2 and 3
nodes sharing one PostgreSQL catalog and one S3 store (OpenStack Swift's S3 API on loopback).

For each node count N, on a fresh database and store prefix:
- ingest: the benchmark corpus (bench_gen_corpus, real messages) split in N contiguous parts,
  one `bench_http ingest` per node at once (CLUSTER_CLIENTS keep-alive connections each, batches
  of 1,000 lines); lines/s per core = acknowledged lines / the nodes' CPU seconds (utime + stime
  from /proc/PID/stat); ack latency p50/p99 per node (request sent -> 2xx);
- what the store and the catalog saw meanwhile: S3 requests by method and kind (Swift's proxy
  log), WAL objects and bytes (node metrics), PostgreSQL transactions and rows
  (pg_stat_database);
- after every node flushed: segment bytes per line in the store (the catalog's segments);
- queries: the standard queries (those of bench/query_bench.cc, as the `query` area asks them
  over HTTP) through a node started after the flush (it plans from every node's registered
  segments and fans out to the N nodes): the first run (its segment cache empty: byte ranges
  from the store) and hot (median and p95 of CLUSTER_QUERY_RUNS).

Prints markdown tables with the commit, the load average and the machine, and writes
bench/results/cluster-latest.md and .json. Environment: BUILD (default build), CLUSTER_LINES
(default 300000), CLUSTER_NODES (default 1,2,3), CLUSTER_CLIENTS (per node, default 4),
CLUSTER_QUERY_RUNS (default 10), CLUSTER_COMMIT (the commit the binaries were built from, when not
the work tree's HEAD), CLUSTER_SMALL_LINES (default 30000: one node also takes that many
lines in batches of 4 from 64 clients, as the seed's agents send them; 0 skips it), BENCH_KEEP=1 keeps the
work directory."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))

from areas.query import query_set  # noqa: E402  (the standard queries)
from benchlib.common import (HTTP_TOOL, KEEP, ROOT, SHARED, WORK, cpu_model, log,  # noqa: E402
                             run_json)
from benchlib.corpus import corpus_head, ensure_corpus  # noqa: E402
from benchlib.server import Server, search_target  # noqa: E402
from e2e_cold_store_test import create_bucket, fixture_env  # noqa: E402
from e2e_lib import create_database, metric_value, psql  # noqa: E402

LINES = int(os.environ.get("CLUSTER_LINES", "300000"))
NODE_COUNTS = [int(n) for n in os.environ.get("CLUSTER_NODES", "1,2,3").split(",") if n]
CLIENTS = int(os.environ.get("CLUSTER_CLIENTS", "4"))
QUERY_RUNS = int(os.environ.get("CLUSTER_QUERY_RUNS", "10"))
SMALL_LINES = int(os.environ.get("CLUSTER_SMALL_LINES", "30000"))
# The seed's hosts each log 4 lines/s (2,000,000 / 500,000) and the agent ships every second.
SMALL_BATCH = 4
SMALL_CLIENTS = 64
BUCKET = "sawmill-bench"
SECRET = "bench-cluster-secret-0123456789"
RESULTS = {}


def pg_stats(url, name):
    row = psql(url, "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_fetched "
                    "FROM pg_stat_database WHERE datname = '%s'" % name)
    return [int(x) for x in row.split("|")]


def swift_requests(log_path, offset, prefix):
    """S3 requests the store's proxy logged after byte "offset" for keys under "prefix", by
    (method, kind): kind "wal" or "segments" (or "other")."""
    counts = {}
    with open(log_path, "rb") as f:
        f.seek(offset)
        for raw in f:
            m = re.search(rb" (GET|PUT|HEAD|POST|DELETE) /%s/([^ ?]*)" % BUCKET.encode(), raw)
            if not m:
                continue
            key = m.group(2).decode()
            if not key.startswith(prefix + "/") and not (m.group(1) == b"GET" and
                                                         key == ""):
                continue
            rest = key[len(prefix) + 1:]
            kind = rest.split("/", 1)[0] if rest.split("/", 1)[0] in ("wal", "segments") \
                else "other"
            k = (m.group(1).decode(), kind)
            counts[k] = counts.get(k, 0) + 1
    return counts


def fmt(x, digits=0):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def split_corpus(corpus, parts):
    """The corpus in "parts" contiguous files (each node gets a time slice of its own)."""
    with open(corpus, "rb") as f:
        lines = f.readlines()
    paths = []
    per = (len(lines) + parts - 1) // parts
    for i in range(parts):
        path = os.path.join(WORK, f"part-{parts}-{i}.ndjson")
        with open(path, "wb") as out:
            out.writelines(lines[i * per:(i + 1) * per])
        paths.append(path)
    return paths


def node_args(url, s3env, prefix, node_id):
    """A cluster node's arguments: catalog "url", the store under "prefix", id "node_id"."""
    return ["--catalog", url, "--store", f"s3://{BUCKET}/{prefix}", "--cold-store-endpoint",
            s3env["AWS_ENDPOINT_URL"], "--node-id", node_id, "--cluster-secret", SECRET]


def run_nodes(n, corpus, manifest, admin_url, s3env, proxy_log):
    name = f"bench_cluster_{n}_{os.getpid()}"
    url = create_database(admin_url, name)
    prefix = f"n{n}-{os.getpid()}"

    nodes = [Server(f"c{n}-n{i}", args=node_args(url, s3env, prefix, f"n{i}"))
             for i in range(n)]
    out = {"nodes": n}
    qnode = None
    try:
        parts = split_corpus(corpus, n)
        time.sleep(2)  # every node's registry has read the others' heartbeats
        with open(proxy_log, "rb") as f:
            f.seek(0, 2)
            log_offset = f.tell()
        pg0 = pg_stats(admin_url, name)
        cpu0 = [s.cpu_seconds() for s in nodes]
        m0 = [s.get("/metrics")[1].decode() for s in nodes]
        t0 = time.time()
        log(f"{n} node(s): ingesting {LINES:,} lines, {CLIENTS} clients per node")
        procs = [subprocess.Popen([HTTP_TOOL, "ingest", "--addr", s.addr, "--file", p,
                                   "--clients", str(CLIENTS), "--batch", "1000"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for s, p in zip(nodes, parts)]
        results = []
        for p in procs:
            stdout, stderr = p.communicate(timeout=3600)
            if p.returncode != 0:
                raise RuntimeError(f"bench_http ingest failed: {stderr[-400:]}")
            results.append(json.loads(stdout.strip().splitlines()[-1]))
        wall = time.time() - t0
        cpu = sum(s.cpu_seconds() - c for s, c in zip(nodes, cpu0))
        m1 = [s.get("/metrics")[1].decode() for s in nodes]
        pg1 = pg_stats(admin_url, name)
        s3_ingest = swift_requests(proxy_log, log_offset, prefix)
        acked = sum(r["lines_acked"] for r in results)
        errors = sum(r["errors"] for r in results)
        wal_objects = sum(metric_value(b, "sawmill_wal_objects_written_total") -
                          metric_value(a, "sawmill_wal_objects_written_total")
                          for a, b in zip(m0, m1))
        wal_bytes = sum(metric_value(b, "sawmill_wal_object_bytes_total") -
                        metric_value(a, "sawmill_wal_object_bytes_total") for a, b in zip(m0, m1))
        out.update({
            "lines_acked": acked, "errors": errors,
            "first_error": next((r["first_error"] for r in results if r["first_error"]), ""),
            "wall_s": wall, "lines_per_s": acked / wall, "cpu_s": cpu,
            "lines_per_s_per_core": acked / cpu if cpu else None,
            "ack_p50_ms": [r["ack_p50_ms"] for r in results],
            "ack_p99_ms": [r["ack_p99_ms"] for r in results],
            "peak_rss": [s.peak_rss() for s in nodes],
            "wal_objects": wal_objects, "wal_bytes": wal_bytes,
            "pg_commits": pg1[0] - pg0[0], "pg_inserted": pg1[1] - pg0[1],
            "pg_updated": pg1[2] - pg0[2], "pg_deleted": pg1[3] - pg0[3],
            "s3_requests_ingest": {f"{m} {k}": c for (m, k), c in sorted(s3_ingest.items())},
        })
        log(f"{n} node(s): {acked:,} lines in {wall:.1f} s, {cpu:.1f} CPU s; flushing")
        t = time.time()
        for s in nodes:
            s.flush()
        deadline = time.time() + 300
        while psql(url, "SELECT count(*) FROM wal_objects") != "0" and time.time() < deadline:
            time.sleep(0.5)
        out["flush_s"] = time.time() - t
        # Per core with the flush: building and uploading the segments of what was ingested is
        # part of ingesting it (the window above holds only the flushes that fell inside it).
        out["cpu_with_flush_s"] = sum(s.cpu_seconds() - c for s, c in zip(nodes, cpu0))
        out["lines_per_s_per_core_with_flush"] = acked / out["cpu_with_flush_s"]
        seg = psql(url, "SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(bytes), 0), "
                        "coalesce(sum(raw_bytes), 0) FROM segments").split("|")
        out.update({"segments": int(seg[0]), "segment_rows": int(seg[1]),
                    "segment_bytes": int(seg[2]), "raw_bytes": int(seg[3])})
        out["s3_requests_total"] = {f"{m} {k}": c for (m, k), c in
                                    sorted(swift_requests(proxy_log, log_offset, prefix).items())}

        # Queries through a node started after the flush.
        qnode = Server(f"c{n}-q", args=node_args(url, s3env, prefix, "q"))
        time.sleep(2)
        out["queries"] = {}
        for qname, q, extra, _ in query_set(manifest):
            target = search_target(q, limit="100", cache="0", **extra)
            t = time.perf_counter()
            status, body = qnode.get(target)
            first_ms = (time.perf_counter() - t) * 1000
            answer = json.loads(body) if status == 200 else {}
            r = run_json([HTTP_TOOL, "query", "--addr", qnode.addr, "--target", target,
                          "--runs", str(QUERY_RUNS), "--max-seconds", "10", "--min-runs", "3"])
            out["queries"][qname] = {
                "q": q, "status": status, "first_ms": first_ms, "p50_ms": r["p50_ms"],
                "p95_ms": r.get("p95_ms"), "runs": r["ok"], "partial": answer.get("partial"),
                "rows_scanned": answer.get("stats", {}).get("rows_scanned"),
                "hits": len(answer.get("hits") or answer.get("rows") or [])}
            log(f"{n} node(s): {qname}: first {first_ms:.0f} ms, hot p50 {r['p50_ms']} ms")
    finally:
        for s in nodes + ([qnode] if qnode else []):
            s.stop()
    return out


def small_batches(corpus, admin_url, s3env):
    """One node, SMALL_LINES lines in batches of SMALL_BATCH lines (what an agent on a quiet
    host sends): the per-request cost the 1,000-line batches hide."""
    name = f"bench_cluster_small_{os.getpid()}"
    url = create_database(admin_url, name)
    path = corpus_head(corpus, SMALL_LINES, os.path.join(WORK, "small.ndjson"))
    node = Server("small", args=node_args(url, s3env, f"small-{os.getpid()}", "s"))
    try:
        pg0 = pg_stats(admin_url, name)
        cpu0 = node.cpu_seconds()
        log(f"1 node: {SMALL_LINES:,} lines in batches of {SMALL_BATCH}")
        r = run_json([HTTP_TOOL, "ingest", "--addr", node.addr, "--file", path,
                      "--clients", str(SMALL_CLIENTS), "--batch", str(SMALL_BATCH)])
        cpu = node.cpu_seconds() - cpu0
        pg1 = pg_stats(admin_url, name)
    finally:
        node.stop()
    return {"batch": SMALL_BATCH, "clients": SMALL_CLIENTS, "lines_acked": r["lines_acked"],
            "errors": r["errors"], "wall_s": r["wall_s"], "lines_per_s": r["lines_per_s"],
            "cpu_s": cpu, "lines_per_s_per_core": r["lines_acked"] / cpu if cpu else None,
            "ack_p50_ms": r["ack_p50_ms"], "ack_p99_ms": r["ack_p99_ms"],
            "pg_commits": pg1[0] - pg0[0]}


def machine():
    cpus = os.cpu_count()
    model = cpu_model()
    return f"{cpus} cores ({model})" if model else f"{cpus} cores"


def tables(runs, small, corpus_bytes, commit, load_before, load_after):
    lines = [f"### Cluster nodes on one machine (`make bench-cluster`, commit {commit})", "",
             f"{LINES:,} corpus lines ({corpus_bytes / LINES:.0f} bytes per line), "
             f"{CLIENTS} clients per node, batches of 1,000 lines; {machine()}; load average "
             f"{load_before} before, {load_after} after; PostgreSQL 15 and OpenStack Swift "
             f"(S3 API) on the same machine.", "",
             "| nodes | lines/s (all nodes) | lines/s per core (with the flush) | server CPU s "
             "| ack p50 ms "
             "| ack p99 ms | WAL objects/s | WAL bytes/line | PG commits/s | PG rows/s "
             "| S3 requests/s | segment bytes/line |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        s3_total = sum(r["s3_requests_ingest"].values())
        rows = r["pg_inserted"] + r["pg_updated"] + r["pg_deleted"]
        lines.append(
            f"| {r['nodes']} | {fmt(r['lines_per_s'])} | {fmt(r['lines_per_s_per_core'])} "
            f"({fmt(r['lines_per_s_per_core_with_flush'])}) "
            f"| {fmt(r['cpu_s'], 1)} | {' / '.join(fmt(x) for x in r['ack_p50_ms'])} "
            f"| {' / '.join(fmt(x) for x in r['ack_p99_ms'])} "
            f"| {fmt(r['wal_objects'] / r['wall_s'], 1)} "
            f"| {fmt(r['wal_bytes'] / r['lines_acked'], 1) if r['lines_acked'] else '—'} "
            f"| {fmt(r['pg_commits'] / r['wall_s'], 1)} | {fmt(rows / r['wall_s'], 1)} "
            f"| {fmt(s3_total / r['wall_s'], 1)} "
            f"| {fmt(r['segment_bytes'] / r['segment_rows'], 1) if r['segment_rows'] else '—'} |")
    lines += ["", "Ack p50/p99: one figure per node. Per core = acknowledged lines ÷ the nodes' "
              "CPU seconds; PostgreSQL, Swift and the load generator run on the same cores "
              "and are not counted. PG rows = rows inserted + updated + deleted "
              "(pg_stat_database); S3 requests during the ingest (Swift's proxy log):", ""]
    for r in runs:
        lines.append(f"- {r['nodes']} node(s): during ingest "
                     + ", ".join(f"{k} {v:,}" for k, v in r["s3_requests_ingest"].items())
                     + f"; {r['segments']} segments after the flush ({r['flush_s']:.1f} s), "
                     f"{r['segment_rows']:,} rows; errors {r['errors']}"
                     + (f" (first: {r['first_error'][:120]})" if r["errors"] else ""))
    if small:
        lines.append(
            f"- small batches: 1 node, {small['lines_acked']:,} lines in batches of "
            f"{small['batch']} from {small['clients']} clients: "
            f"{fmt(small['lines_per_s_per_core'])} lines/s per core, "
            f"{fmt(small['lines_per_s'])} lines/s, ack p50 {fmt(small['ack_p50_ms'])} ms, "
            f"p99 {fmt(small['ack_p99_ms'])} ms, {fmt(small['pg_commits'] / small['wall_s'], 1)} "
            f"PG commits/s; errors {small['errors']}")
    names = list(runs[0]["queries"].keys()) if runs else []
    lines += ["", "Queries (limit 100, result cache off) through a node started after the flush: "
              "first run (segment cache empty) / hot median, ms:", "",
              "| query | " + " | ".join(f"{r['nodes']} node(s)" for r in runs) + " |",
              "|---|" + "---:|" * len(runs)]
    for qname in names:
        cells = []
        for r in runs:
            x = r["queries"].get(qname, {})
            cell = f"{fmt(x.get('first_ms'))} / {fmt(x.get('p50_ms'), 1)}"
            if x.get("status") != 200 or x.get("partial"):
                cell += f" ({x.get('status')}{', partial' if x.get('partial') else ''})"
            cells.append(cell)
        lines.append(f"| `{runs[0]['queries'][qname]['q']}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    commit = os.environ.get("CLUSTER_COMMIT") or subprocess.run(
        ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
        text=True).stdout.strip()
    if not os.environ.get("CLUSTER_COMMIT") and \
            subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD"]).returncode != 0:
        commit += " (with uncommitted changes)"
    load_before = "%.1f" % os.getloadavg()[0]
    corpus, manifest = ensure_corpus(LINES)
    pg_dir = os.path.join(WORK, "pg")
    s3_dir = os.path.join(WORK, "s3")
    started = []
    try:
        log("starting PostgreSQL and the S3 store")
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "pg-test-server.sh"), "start",
                        pg_dir], check=True, timeout=600)
        started.append(("pg-test-server.sh", pg_dir))
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "s3-test-store.sh"), "start",
                        s3_dir], check=True, timeout=600)
        started.append(("s3-test-store.sh", s3_dir))
        with open(os.path.join(pg_dir, "url")) as f:
            admin_url = f.read().strip()
        s3env = fixture_env(SHARED, s3_dir)
        os.environ.update({k: v for k, v in s3env.items() if k.startswith("AWS_")})
        create_bucket(s3env, BUCKET)
        proxy_log = os.path.join(s3_dir, "log", "proxy-server.log")
        runs = [run_nodes(n, corpus, manifest, admin_url, s3env, proxy_log) for n in NODE_COUNTS]
        small = small_batches(corpus, admin_url, s3env) if SMALL_LINES else None
    finally:
        for script, d in reversed(started):
            subprocess.run(["bash", os.path.join(ROOT, "scripts", script), "stop", d],
                           capture_output=True, timeout=300)
    load_after = "%.1f" % os.getloadavg()[0]
    text = tables(runs, small, os.path.getsize(corpus), commit, load_before, load_after)
    print(text, flush=True)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "cluster-latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(ROOT, "bench", "results", "cluster-latest.json"), "w") as f:
        json.dump({"commit": commit, "lines": LINES, "clients_per_node": CLIENTS,
                   "load_before": load_before, "load_after": load_after, "machine": machine(),
                   "corpus_bytes": os.path.getsize(corpus), "runs": runs,
                   "small_batches": small}, f, indent=1)
    if not KEEP:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
