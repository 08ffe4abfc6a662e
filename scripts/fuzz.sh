#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (built by `make fuzz` into build-fuzz/fuzz/) one at a time,
# each for FUZZ_SECONDS (default 60), with ASan and UBSan halting on the first error, memory
# bounded (-rss_limit_mb=2048, -malloc_limit_mb=2048: an input that needs more is a finding) and
# a per-target -max_len. Seed corpora are written first into build-fuzz/corpus/<target> from
# ../shared/data/real (SAWMILL_SHARED_DIR) and the tests' inputs; fuzz/seeds/<target> and
# fuzz/regressions/<target> are read as extra seed directories.
#   FUZZ_TARGETS="syslog wal_reader"  only these targets, in this order (default: all)
#   FUZZ_BUILD=build-fuzz             the build directory
# Results: one line per target in build-fuzz/fuzz-results.txt and on stdout; logs in
# build-fuzz/logs/<target>.log; crash, leak, timeout and out-of-memory inputs in
# build-fuzz/artifacts/<target>/. Exits 1 when any target found something.
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
SECS=${FUZZ_SECONDS:-60}
SHARED=${SAWMILL_SHARED_DIR:-$(pwd)/../shared}

# target:max_len. Bodies and files get 64 KiB (enough for every structure the decoders have; a
# WAL file 128 KiB, so that records fragment across its 32 KiB blocks); queries and agent lines
# less, as their limits are small.
ALL_TARGETS=(
  native_body:65536 decode_body:65536 es_bulk:65536 loki_json:65536 loki_proto:65536
  otlp_json:65536 otlp_proto:65536 syslog:65536 query_parser:4096 segment_reader:65536
  wal_reader:131072 wal_batch:65536 agent_parser:16384 agent_multiline:16384
)

# The targets named in FUZZ_TARGETS, in that order, or all of them.
selected=()
for want in ${FUZZ_TARGETS:-$(printf '%s ' "${ALL_TARGETS[@]%%:*}")}; do
  found=""
  for entry in "${ALL_TARGETS[@]}"; do
    [ "${entry%%:*}" = "$want" ] && found=$entry
  done
  if [ -z "$found" ]; then
    echo "fuzz.sh: no target named '$want' (targets: ${ALL_TARGETS[*]%%:*})" >&2
    exit 2
  fi
  selected+=("$found")
done

echo "fuzz.sh: seed corpora from $SHARED/data/real into $BUILD/corpus"
"$BUILD/fuzz/fuzz_seeds" "$SHARED" "$(pwd)" "$BUILD/corpus" || exit 1

mkdir -p "$BUILD/logs"
results="$BUILD/fuzz-results.txt"
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for entry in "${selected[@]}"; do
  name=${entry%%:*}
  max_len=${entry##*:}
  corpus="$BUILD/corpus/$name"
  artifacts="$BUILD/artifacts/$name/"
  mkdir -p "$corpus" "$artifacts"
  extra=()
  for dir in "fuzz/seeds/$name" "fuzz/regressions/$name"; do
    [ -d "$dir" ] && extra+=("$dir")
  done
  log="$BUILD/logs/$name.log"
  echo "fuzz.sh: $name for ${SECS}s (max_len $max_len), log $log"
  start=$(date +%s)
  "$BUILD/fuzz/fuzz_$name" -max_total_time="$SECS" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len="$max_len" -timeout=25 -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$corpus" "${extra[@]}" >"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  corp=$(find "$corpus" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    verdict="clean"
  else
    failed=1
    kind=$(grep -o -m1 'ERROR: [A-Za-z]*: [a-z-]*\|runtime error\|FUZZ_CHECK failed' "$log" |
      head -1)
    verdict="FOUND (${kind:-exit $rc}): $(ls -t "$artifacts" | head -1)"
  fi
  line=$(printf '%-16s %5ss %12s execs  corpus %6s  peak_rss %5s MB  %s' "$name" \
    "$elapsed" "${execs:-?}" "$corp" "${rss:-?}" "$verdict")
  echo "$line" | tee -a "$results"
done
exit $failed
