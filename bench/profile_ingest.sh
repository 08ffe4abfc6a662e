#!/usr/bin/env bash
# profile_ingest.sh - where the server's CPU goes while it ingests corpus lines over HTTP and
# flushes them (issue 19, "Write path and memory"). Part of `make bench` (area "profile",
# bench/areas/profile.py); runs by hand too:
#
#   bench/profile_ingest.sh BUILD_DIR            (LINES=1000000 by default)
#   LINES=200000 OUT=/tmp/p bench/profile_ingest.sh build
#
# A fresh `sawmill server` (loopback, temporary data directory) is started, then
# `perf record -F 499 --call-graph dwarf` attaches to it while `bench_http ingest` sends LINES
# generated corpus lines (2 keep-alive clients, batches of 1,000) and `POST
# /api/v1/admin/flush` writes them into segments; perf stops when the flush has answered. A
# batch answered 429 (memtables past 1.5 x memtable_cap) is sent again after its Retry-After.
# SERVER_ARGS adds server options, e.g. "--memtable-cap 4GiB --segment-target 4GiB
# --flush-interval 1h" keeps every line in memtables until the flush (the peak RSS after the
# ingest is then the memtables' memory per line).
# The samples are summarised by stage by bench/profile_summary.py (each sample goes to the
# innermost stage named on its call chain; samples of no stage go to the kernel, libc or
# "other" by the function they were taken in), printed as a markdown table and written to
# $OUT/profile.json with the server's CPU seconds per million lines and its peak RSS (VmHWM)
# after the ingest and after the flush.
#
# KEEP_PERF=1 keeps $OUT/perf.data (for `perf report -i`). PERF_CALLGRAPH overrides the call-graph mode (default "dwarf,8192": the Release build keeps
# no frame pointers, so "fp" chains are cut short). Needs perf (Debian: linux-perf); exits 77
# when it is not installed.
set -euo pipefail
BUILD=${1:?usage: profile_ingest.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
LINES=${LINES:-1000000}
CLIENTS=${CLIENTS:-2}
BATCH=${BATCH:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
command -v perf >/dev/null || { echo "profile_ingest: perf is not installed (linux-perf)" >&2; exit 77; }
WORK=$(mktemp -d /tmp/sawmill-profile.XXXXXX)
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"
SERVER_PID=""
PERF_PID=""
cleanup() {
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK/data" "$WORK/perf.data" "$WORK/corpus.ndjson"
  [ "$OUT" = "$WORK/out" ] || rm -rf "$WORK"
}
trap cleanup EXIT

CORPUS=${CORPUS:-}
if [ -z "$CORPUS" ]; then
  CORPUS=$WORK/corpus.ndjson
  "$BUILD/bench/bench_gen_corpus" --lines "$LINES" --out "$CORPUS" \
    --data "${SAWMILL_SHARED_DIR:-$ROOT/../shared}/data/real" >/dev/null
fi
PORT=$(free_port)
mkdir -p "$WORK/data"
"$BUILD/sawmill" server --data "$WORK/data" --http "127.0.0.1:$PORT" ${SERVER_ARGS:-} \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_ready "$PORT" "$SERVER_PID" "$WORK/server.log"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status"; }
TICK=$(getconf CLK_TCK)
CPU0=$(cpu_ticks)
perf record -q -F 499 --call-graph "${PERF_CALLGRAPH:-dwarf,8192}" -p "$SERVER_PID" \
  -o "$WORK/perf.data" >"$WORK/perf.log" 2>&1 &
PERF_PID=$!
sleep 1
"$BUILD/bench/bench_http" ingest --addr "127.0.0.1:$PORT" --file "$CORPUS" \
  --clients "$CLIENTS" --batch "$BATCH" --lines "$LINES" --retry-429 1 >"$OUT/ingest.json"
CPU1=$(cpu_ticks)
HWM_INGEST=$(hwm_kib)
curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/admin/flush" >"$OUT/flush.json"
CPU2=$(cpu_ticks)
HWM_FLUSH=$(hwm_kib)
kill -INT "$PERF_PID"
wait "$PERF_PID" || true
PERF_PID=""
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""
ACKED=$(sed -n 's/.*"lines_acked":\([0-9]*\),.*/\1/p' "$OUT/ingest.json")
[ "$ACKED" = "$LINES" ] || { echo "profile_ingest: $ACKED of $LINES lines acknowledged: $(cat "$OUT/ingest.json")" >&2; exit 1; }

[ "${KEEP_PERF:-0}" = 1 ] && cp "$WORK/perf.data" "$OUT/perf.data"
perf script --no-inline -i "$WORK/perf.data" -F comm,tid,ip,sym,dso 2>/dev/null |
  python3 "$ROOT/bench/profile_summary.py" \
    --lines "$LINES" --tick "$TICK" --cpu-ingest "$((CPU1 - CPU0))" \
    --cpu-flush "$((CPU2 - CPU1))" --hwm-ingest-kib "$HWM_INGEST" --hwm-flush-kib "$HWM_FLUSH" \
    --ingest-json "$OUT/ingest.json" --flush-json "$OUT/flush.json" --json "$OUT/profile.json"
