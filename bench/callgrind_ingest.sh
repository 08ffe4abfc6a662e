#!/usr/bin/env bash
# callgrind_ingest.sh - instructions per ingested line of the server, for comparing two builds on
# a loaded machine (callgrind counts instructions, not seconds: the same binary and input give
# the same count whatever else runs). Not part of `make bench`: run it by hand.
#
#   bench/callgrind_ingest.sh BUILD_DIR [BUILD_DIR ...]
#   SERVER_ARGS="--config masking.yaml" bench/callgrind_ingest.sh BUILD_DIR   (extra server
#   options, split on blanks; e.g. masking rules for the tenant "default", docs/security.md)
#
# For each build: a server under callgrind started, made ready and stopped with no ingest, then
# again with LINES (default 20000) generated corpus lines sent over HTTP by one client in batches
# of 1,000 (bench_http ingest) before the stop, which flushes them into a segment. Prints
# (total - idle) / LINES for each build: the user-space instructions of decode, normalise, WAL,
# memtable, sort, encode, compress and index build per line (kernel time is not counted).
#
# ALERT_RULES=N (default 0): the server loads N alerting rules of the bench's shapes
# (bench/benchlib/alert_rules.py), so the figure includes matching every line against them;
# compare ALERT_RULES=0 and ALERT_RULES=5000 on one build. CALLGRIND_KEEP=DIR keeps the callgrind
# output files there (for callgrind_annotate).
set -euo pipefail
LINES=${LINES:-20000}
read -ra EXTRA <<<"${SERVER_ARGS:-}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
WORK=$(mktemp -d /tmp/sawmill-callgrind.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FIRST=$1
"$FIRST/bench/bench_gen_corpus" --lines "$LINES" --out "$WORK/corpus.ndjson" \
  --data "${SAWMILL_SHARED_DIR:-$ROOT/../shared}/data/real" >/dev/null
ALERT_ARGS=()
if [ "${ALERT_RULES:-0}" -gt 0 ]; then
  python3 "$ROOT/bench/benchlib/alert_rules.py" "$ALERT_RULES" "$WORK/corpus.ndjson.manifest.json" \
    >"$WORK/rules.yaml"
  ALERT_ARGS=(--alert-rules "$WORK/rules.yaml")
fi


# run BUILD LINES -> total instructions
run() {
  local build=$1 lines=$2 port data out pid
  port=$(free_port)
  data="$WORK/data-$RANDOM"
  out="$WORK/cg-$RANDOM.out"
  mkdir -p "$data"
  valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no \
    "$build/sawmill" server --data "$data" --http "127.0.0.1:$port" ${EXTRA[@]+"${EXTRA[@]}"} \
    ${ALERT_ARGS[@]+"${ALERT_ARGS[@]}"} \
    >"$WORK/server.log" 2>&1 &
  pid=$!
  wait_ready "$port" "$pid" "$WORK/server.log" 600  # valgrind starts slowly
  if [ "$lines" -gt 0 ]; then
    "$build/bench/bench_http" ingest --addr "127.0.0.1:$port" --file "$WORK/corpus.ndjson" \
      --clients 1 --batch 1000 --lines "$lines" >"$WORK/ingest.json"
    grep -q "\"lines_acked\":$lines," "$WORK/ingest.json" ||
      { echo "not every line was acknowledged: $(cat "$WORK/ingest.json")" >&2; exit 1; }
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  sed -n 's/^totals: //p' "$out"
  if [ -n "${CALLGRIND_KEEP:-}" ]; then
    mkdir -p "$CALLGRIND_KEEP"
    cp "$out" "$CALLGRIND_KEEP/callgrind.$(echo "$build" | tr / _).rules${ALERT_RULES:-0}.lines$lines.out"
  fi
}

printf '%-40s %15s %15s %18s\n' build idle_instr total_instr instr_per_line
for build in "$@"; do
  idle=$(run "$build" 0)
  total=$(run "$build" "$LINES")
  printf '%-40s %15s %15s %18s\n' "$build" "$idle" "$total" $(( (total - idle) / LINES ))
done
