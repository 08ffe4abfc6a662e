#!/usr/bin/env bash
# `make bench-cluster`: 1, 2 and 3 cluster nodes on this machine on one PostgreSQL catalog and one
# S3 store (OpenStack Swift's S3 API), both private and on loopback (scripts/pg-test-server.sh,
# scripts/s3-test-store.sh): ingest lines/s per core, ack latency p50/p99, what the store and the
# catalog see per second, segment bytes per line, and the standard queries' latency. Prints
# markdown tables (with the commit and the load average) and writes
# bench/results/cluster-latest.{md,json}. See bench/cluster_bench.py and docs/capacity.md.
#
# Environment: BUILD (build directory, default build), CLUSTER_LINES (300000), CLUSTER_NODES
# (1,2,3), CLUSTER_CLIENTS (clients per node, 4), CLUSTER_QUERY_RUNS (10), CLUSTER_SMALL_LINES
# (30000 lines in batches of 4 on one node; 0: skipped), BENCH_KEEP=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
export BENCH_BUILD_DIR="$BUILD_DIR"
export BENCH_LINES="${CLUSTER_LINES:-300000}"
export SAWMILL_SHARED_DIR="${SAWMILL_SHARED_DIR:-$(dirname "$ROOT")/shared}"
exec python3 "$ROOT/bench/cluster_bench.py"
