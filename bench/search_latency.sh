#!/usr/bin/env bash
# search_latency.sh - the wall time of one small search over HTTP, for several builds side by side
# in one run (what a user's `sawmill search` waits for beyond the query itself: the request, the
# audit entry written before the answer, the answer):
#
#   bench/search_latency.sh SAWMILL_A [SAWMILL_B ...]   (each a sawmill binary)
#   ROUNDS=2 SEARCHES=60 LINES=8000 bench/search_latency.sh /tmp/before/sawmill build/sawmill
#
# For each round and each build in turn (interleaved, so that the shared machine's load falls on
# every build alike): a fresh server (loopback, temporary data directory) takes LINES generated
# corpus lines in one request (they stay in its memtables), then SEARCHES times `GET
# /api/v1/search?q=QUERY&all_time=1&cache=0` by curl, one after another. Printed per round and
# build: the median, p90 and max of curl's total time, and the load average.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: search_latency.sh SAWMILL..." >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
LINES=${LINES:-8000}
ROUNDS=${ROUNDS:-2}
SEARCHES=${SEARCHES:-60}
QUERY=${QUERY:-level=ERROR | count}
GEN=${BENCH_GEN:-$ROOT/build/bench/bench_gen_corpus}
[ -x "$GEN" ] || { echo "search_latency: no bench_gen_corpus at $GEN (set BENCH_GEN)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/sawmill-search.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$GEN" --lines "$LINES" --out "$WORK/corpus.ndjson" \
  --data "${SAWMILL_SHARED_DIR:-$ROOT/../shared}/data/real" >/dev/null
TARGET="/api/v1/search?$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlencode({"q": sys.argv[1], "all_time": "1", "cache": "0"}))' "$QUERY")"

echo "| round | build | median ms | p90 ms | max ms | searches | load |"
echo "|---|---|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    rm -rf "$WORK/data"
    mkdir -p "$WORK/data"
    PORT=$(free_port)
    "$bin" server --data "$WORK/data" --http "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$PORT" "$SERVER_PID" "$WORK/server.log"
    curl -sf -X POST --data-binary @"$WORK/corpus.ndjson" -H 'Content-Type: application/x-ndjson' \
      "http://127.0.0.1:$PORT/api/v1/ingest" >/dev/null
    for _ in $(seq 1 "$SEARCHES"); do
      curl -sf -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT$TARGET"
    done | sort -n | awk -v r="$round" -v b="$bin" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
      '{a[NR] = $1 * 1000} END {printf "| %d | %s | %.1f | %.1f | %.1f | %d | %s |\n", r, b, a[int(NR / 2) + 1], a[int(NR * 0.9)], a[NR], NR, l}'
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=""
  done
done
