"""The capacity model of docs/capacity.md, computed from a `make bench-cluster` result.

    python3 bench/capacity_model.py [bench/results/cluster-latest.json]

Prints the markdown tables docs/capacity.md shows: nodes, object-store bytes and requests,
PostgreSQL load and monthly cost for the seed's load (2,000,000 lines/s from 500,000 hosts).
Every measured input comes from the JSON; every other input is a named constant below (the
assumptions and list prices docs/capacity.md states, with their sources and dates)."""

import json
import math
import os
import sys

# The seed's load.
LINES_PER_S = 2_000_000
HOSTS = 500_000
# Planning assumptions (docs/capacity.md "Assumptions").
CORES_PER_NODE = 16  # one m7g.4xlarge: 16 vCPU, 64 GiB
TARGET_UTILISATION = 0.6  # CPU busy at the average load: room for peaks, queries and one node lost
SPARE_NODES = 1  # N+1: a node's loss does not push the others past their target
RETENTION_DAYS = 30
MONTH_S = 730 * 3600  # the month the list prices are per (730 hours)
# Server defaults (docs/operations.md, src/http/server_config.h): what sets object sizes.
WAL_OBJECT_INTERVAL_S = 0.2
WAL_OBJECT_BYTES = 4 << 20
FLUSH_INTERVAL_S = 30
SEGMENT_TARGET_BYTES = 64 << 20
MEMTABLE_BYTES_PER_LINE = 293  # docs/performance.md (arena memtables)
PARTITIONS = 16
PART_BYTES = 16 << 20  # cold_store_part_size: larger segments go up as multipart uploads
HEARTBEAT_S = 2
SEQ_BLOCK = 1_000_000
# List prices, US East (N. Virginia), on demand (docs/capacity.md "Prices" names the pages).
PRICE_NODE_HOUR = 8 * 0.0816  # m7g.4xlarge = 8 x m7g.large ($0.0816/h, June 2026)
PRICE_S3_GB_MONTH = [(50_000, 0.023), (450_000, 0.022), (math.inf, 0.021)]  # GB tiers
PRICE_S3_PUT_PER_1000 = 0.005  # PUT, COPY, POST, LIST
PRICE_S3_GET_PER_1000 = 0.0004  # GET, HEAD, SELECT
PRICE_PG_HOUR = 2 * 0.33  # ASSUMPTION (no list price found): db.m7g.xlarge Multi-AZ, 2 x $0.33/h
PRICE_PG_STORAGE_GB_MONTH = 0.115  # RDS gp3, June 2026
PG_STORAGE_GB = 100


def s3_storage_cost(gb):
    cost, left, prev = 0.0, gb, 0
    for upto, price in PRICE_S3_GB_MONTH:
        band = min(left, upto - prev)
        cost += band * price
        left -= band
        prev = upto
        if left <= 0:
            break
    return cost


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def model(bench):
    runs = bench["runs"]
    small = bench.get("small_batches")
    # Per core with the final flush when the run measured it (ingest window alone otherwise).
    per_core_big = min(r.get("lines_per_s_per_core_with_flush") or r["lines_per_s_per_core"]
                       for r in runs)
    per_core_small = small["lines_per_s_per_core"] if small else None
    acked = sum(r["lines_acked"] for r in runs)
    wal_b = sum(r["wal_bytes"] for r in runs) / acked
    big = max(runs, key=lambda r: r["segment_rows"])
    seg_b = big["segment_bytes"] / big["segment_rows"]
    raw_b = bench["corpus_bytes"] / bench["lines"]
    out = {"per_core_big": per_core_big, "per_core_small": per_core_small, "wal_b": wal_b,
           "seg_b": seg_b, "raw_b": raw_b}
    cases = []
    for name, per_core in (("1,000-line batches (through a shipper tier or agent coalescing)",
                            per_core_big),
                           ("4-line batches (every agent ships each second)", per_core_small)):
        if not per_core:
            continue
        cores = LINES_PER_S / per_core / TARGET_UTILISATION
        active = math.ceil(cores / CORES_PER_NODE)
        nodes = active + SPARE_NODES
        r = LINES_PER_S / active  # lines/s per node (the spare takes its share too; worst case)
        # WAL objects: sealed every 200 ms while traffic flows, or at 4 MiB.
        wal_per_node = max(1 / WAL_OBJECT_INTERVAL_S, r * wal_b / WAL_OBJECT_BYTES)
        wal_puts = active * wal_per_node
        # Segments: each partition's memtable flushes at 30 s or 64 MiB (one tenant).
        lines_per_partition_s = r / PARTITIONS
        flush_s = min(FLUSH_INTERVAL_S,
                      SEGMENT_TARGET_BYTES / MEMTABLE_BYTES_PER_LINE / lines_per_partition_s)
        segments_per_s = active * PARTITIONS / flush_s
        seg_bytes = lines_per_partition_s * flush_s * seg_b
        parts = math.ceil(seg_bytes / PART_BYTES)
        seg_put_requests = segments_per_s * (1 if parts <= 1 else parts + 2)
        seg_get_requests = segments_per_s  # read back past the cache once (verification)
        puts = wal_puts + seg_put_requests
        gets = wal_per_node * 0 + seg_get_requests
        deletes = wal_puts  # flushed WAL objects (DELETE is free)
        stored_gb = LINES_PER_S * seg_b * 86400 * RETENTION_DAYS / 1e9
        written_gb_month = LINES_PER_S * (seg_b + wal_b) * MONTH_S / 1e9
        # PostgreSQL: per WAL object an INSERT, then marked flushed (UPDATE) and removed
        # (DELETE); per segment an INSERT and, by trigger, a numbered change (INSERT into
        # segment_changes, UPDATE of its counter); heartbeats; seq blocks.
        pg_rows = 3 * wal_puts + 3 * segments_per_s + nodes / HEARTBEAT_S + \
            LINES_PER_S / SEQ_BLOCK
        pg_commits = 2 * wal_puts + segments_per_s + nodes / HEARTBEAT_S + \
            LINES_PER_S / SEQ_BLOCK
        cost = {
            "nodes": nodes * PRICE_NODE_HOUR * 730,
            "s3_storage": s3_storage_cost(stored_gb),
            "s3_put": puts * MONTH_S / 1000 * PRICE_S3_PUT_PER_1000,
            "s3_get": gets * MONTH_S / 1000 * PRICE_S3_GET_PER_1000,
            "postgres": PRICE_PG_HOUR * 730 + PG_STORAGE_GB * PRICE_PG_STORAGE_GB_MONTH,
        }
        cases.append({"name": name, "per_core": per_core, "cores": cores, "active": active,
                      "nodes": nodes, "per_node": r, "wal_per_node": wal_per_node,
                      "wal_puts": wal_puts, "flush_s": flush_s, "segments_per_s": segments_per_s,
                      "seg_bytes": seg_bytes, "parts": parts, "puts": puts, "gets": gets,
                      "deletes": deletes, "stored_gb": stored_gb,
                      "written_gb_month": written_gb_month, "pg_rows": pg_rows,
                      "pg_commits": pg_commits, "cost": cost,
                      "requests_per_host_s": 1.0 if "4-line" in name else None})
    out["cases"] = cases
    return out


def render(m, bench):
    lines = [f"Inputs measured by `make bench-cluster` at {bench['commit']} (load average "
             f"{bench['load_before']}–{bench['load_after']}): "
             f"{fmt(m['per_core_big'])} lines/s per core with 1,000-line batches (the lowest of "
             f"the 1-, 2- and 3-node runs)"
             + (f", {fmt(m['per_core_small'])} with 4-line batches" if m["per_core_small"] else "")
             + f"; {fmt(m['raw_b'])} bytes per raw line, {fmt(m['wal_b'], 1)} per line in WAL "
             f"objects, {fmt(m['seg_b'], 1)} per line in segments.", ""]
    header = "| | " + " | ".join(c["name"] for c in m["cases"]) + " |"
    lines += [header, "|---|" + "---:|" * len(m["cases"])]

    def row(label, f):
        lines.append(f"| {label} | " + " | ".join(f(c) for c in m["cases"]) + " |")

    row("cores at 60 % busy", lambda c: fmt(c["cores"]))
    row(f"nodes ({CORES_PER_NODE} vCPU, +{SPARE_NODES} spare)", lambda c: fmt(c["nodes"]))
    row("lines/s per node", lambda c: fmt(c["per_node"]))
    row("WAL object PUTs/s (all nodes)", lambda c: fmt(c["wal_puts"], 1))
    row("segment flush every (s) / segment size", lambda c: "%s s / %s MB" % (
        fmt(c["flush_s"], 1), fmt(c["seg_bytes"] / 1e6, 1)))
    row("segments written/s (all nodes)", lambda c: fmt(c["segments_per_s"], 1))
    row("S3 PUT-class requests/s", lambda c: fmt(c["puts"], 1))
    row("S3 GET-class requests/s (flush verification; queries extra)",
        lambda c: fmt(c["gets"], 1))
    row("S3 DELETEs/s (flushed WAL objects, free)", lambda c: fmt(c["deletes"], 1))
    row("S3 PUT-class requests per month (millions)",
        lambda c: fmt(c["puts"] * MONTH_S / 1e6, 1))
    row("bytes written to S3 per month (TB)", lambda c: fmt(c["written_gb_month"] / 1e3))
    row(f"bytes stored, {RETENTION_DAYS} days kept (TB)", lambda c: fmt(c["stored_gb"] / 1e3))
    row("PostgreSQL rows written/s", lambda c: fmt(c["pg_rows"], 1))
    row("PostgreSQL commits/s", lambda c: fmt(c["pg_commits"], 1))
    row("HTTP requests/s (ingest)", lambda c: fmt(HOSTS) if c["requests_per_host_s"]
        else fmt(LINES_PER_S / 1000))
    lines.append("")
    lines.append("Monthly cost (730 hours, on-demand list prices; see Prices):")
    lines.append("")
    lines += [header, "|---|" + "---:|" * len(m["cases"])]
    row("nodes (m7g.4xlarge)", lambda c: "$" + fmt(c["cost"]["nodes"]))
    row("S3 storage", lambda c: "$" + fmt(c["cost"]["s3_storage"]))
    row("S3 PUT-class requests", lambda c: "$" + fmt(c["cost"]["s3_put"]))
    row("S3 GET-class requests (verification only)", lambda c: "$" + fmt(c["cost"]["s3_get"]))
    row("PostgreSQL (assumed price)", lambda c: "$" + fmt(c["cost"]["postgres"]))
    row("**total**", lambda c: "**$" + fmt(sum(c["cost"].values())) + "**")
    return "\n".join(lines) + "\n"


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results", "cluster-latest.json")
    with open(path) as f:
        bench = json.load(f)
    print(render(model(bench), bench), end="")


if __name__ == "__main__":
    main()
