#!/usr/bin/env bash
# `make bench` / `make bench-quick`: every benchmark area on a fresh server each, beside the
# baselines measured in the same run. Prints one markdown table per area and writes
# bench/results/latest.json and bench/results/latest.md. See docs/performance.md.
#
# Environment:
#   BENCH_LINES   corpus lines (default 10000000; bench-quick uses 1000000)
#   BUILD         build directory holding sawmill and the bench tools (default build)
#   BENCH_AREAS   comma-separated subset of: ingest,disk,query,storm,tail,agent,engine,alerts,
#                 noisy,tiers,profile,peers (default all)
#   LOKI_SRC, VL_SRC  local Go sources of the peers area's Grafana Loki and VictoriaLogs
#                 (docs/performance.md); unset: that peer is not run
#   BENCH_PEERS_SAWMILL_ONLY=1  the peers area measures Sawmill even with no peer (its own
#                 figures only: no ratio, no goal)
#   BENCH_KEEP=1  keep the temporary data directories and server logs
# The areas are bench/areas/*.py; an area that fails prints "not measured: <why>" and the run
# goes on. Every program it runs comes from the normal build (`make bench` builds first).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
export BENCH_BUILD_DIR="$BUILD_DIR"

# 2,000 tail sessions plus the server's own files need more descriptors than the usual 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 8192 2>/dev/null || true

exec python3 "$ROOT/bench/run.py"
