#!/usr/bin/env bash
# `make bench` / `make bench-quick`: every benchmark area on a fresh server each, beside the
# baselines measured in the same run. Prints one markdown table per area and writes
# bench/results/latest.json and bench/results/latest.md. See docs/performance.md.
#
# Environment:
#   BENCH_LINES   corpus lines (default 10000000; bench-quick uses 1000000)
#   BUILD         build directory holding sawmill and the bench tools (default build)
#   BENCH_AREAS   comma-separated subset of: ingest,disk,query,storm,tail,agent,engine (default all)
#   BENCH_KEEP=1  keep the temporary data directories and server logs
# An area whose component is not built yet prints "not measured: <why>" and the run goes on.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
export BENCH_BUILD_DIR="$BUILD_DIR"

# The load tools are part of the normal build; build them here only when they are missing
# (e.g. a build directory configured before bench/ existed).
for tool in bench_gen_corpus bench_http; do
  if [ ! -x "$BUILD_DIR/bench/$tool" ]; then
    echo "bench: building $tool in $BUILD_DIR" >&2
    cmake --build "$BUILD_DIR" --target "$tool" -j "$(nproc)" >&2 || {
      echo "bench: cannot build $tool; run 'make build' first" >&2
      exit 1
    }
  fi
done

# 2,000 tail sessions plus the server's own files need more descriptors than the usual 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 8192 2>/dev/null || true

exec python3 "$ROOT/bench/run.py"
