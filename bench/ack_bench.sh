#!/usr/bin/env bash
# ack_bench.sh - ingest acknowledgement latency under sustained load (issue 19, "ingest ack p99
# (4 MiB bodies, 2 senders)"), for several builds side by side in one run:
#
#   bench/ack_bench.sh SAWMILL_A [SAWMILL_B ...]      (each a build directory or a sawmill binary)
#   RUNS=2 LINES=2000000 bench/ack_bench.sh /tmp/before/sawmill build
#
# For each run and each build in turn (interleaved, so that the shared machine's load falls on
# every build alike), a fresh `sawmill server` (loopback, temporary data directory, default
# settings plus SERVER_ARGS) takes LINES generated corpus lines from `bench_http ingest
# --clients 2 --batch-bytes 4194304 --retry-429 1` (2 keep-alive senders, bodies of at most
# 4 MiB of whole lines, a 429 sent again after its Retry-After and its latency counted from the
# first send). Printed per run: ack p50 / p99 / max, batches answered 429, lines/s, the server's
# CPU seconds and peak RSS, the load average before and after, and, when the server exports it,
# where an Append's time went (sawmill_append_stage_seconds: the sum per stage and the slowest
# bucket seen). The bench_http of the first argument that has one (else BENCH_HTTP) is the
# client for every build. Results also go to $OUT/results.jsonl. With LATENCIES=1, also when the
# slow acks came: $OUT/acks-RUN-N.txt (bench_http --latencies: batch, sent s, latency ms, sent
# as Unix seconds) and $OUT/server-RUN-N.txt (every second: s, memtable bytes, memtable memory
# bytes, pace seconds summed, WAL commit seconds summed, flushes, flushes under pressure, Unix
# seconds), N the build's position, and a line per run of the ack p50/p99 in 10 s windows of send
# time. The two "s" columns have different origins (bench_http starts its run after reading and
# cutting the corpus, 2-3 s for 10 M lines, while the sampler already runs): join them by the
# Unix seconds (session 17 found slow acks put outside the pace stage by that offset).
# Also printed per run (from /proc/PID/task/*/schedstat of the threads alive when the senders
# end): the seconds the server's threads ran and the seconds they waited, runnable, for a CPU,
# and the same for its busiest thread (the flush thread in a run past the cap), so that a run
# starved by the machine's other load shows as such (session 18: the flush thread waited 3.5 s
# for a CPU for each second it ran, at load 10-14).
# With LATENCIES=1 also $OUT/threads-RUN-N.txt (every second, each server thread: Unix seconds,
# tid, name, ns ran, ns waited for a CPU, its nice; the threads are named sawmill-flush,
# sawmill-pack, sawmill-compact, sawmill-tiers, sawmill-http-io; the request workers keep the
# process's name), $OUT/serverlog-RUN-N.txt (the server's log: compactions, tier moves) and a line
# per run of what each named thread ran and waited in the acks' 10 s windows of send time
# (session 20: which work shared the CPU with the flush thread when acks slowed).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: ack_bench.sh SAWMILL_OR_BUILD_DIR..." >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
LINES=${LINES:-2000000}
RUNS=${RUNS:-1}
BINS=()
HTTP=${BENCH_HTTP:-}
GEN=""
for arg in "$@"; do
  if [ -d "$arg" ]; then
    BINS+=("$(cd "$arg" && pwd)/sawmill")
    [ -z "$HTTP" ] && [ -x "$arg/bench/bench_http" ] && HTTP=$(cd "$arg" && pwd)/bench/bench_http
    [ -z "$GEN" ] && [ -x "$arg/bench/bench_gen_corpus" ] && GEN=$(cd "$arg" && pwd)/bench/bench_gen_corpus
  else
    BINS+=("$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")")
    d=$(dirname "$arg")
    [ -z "$HTTP" ] && [ -x "$d/bench/bench_http" ] && HTTP=$(cd "$d" && pwd)/bench/bench_http
    [ -z "$GEN" ] && [ -x "$d/bench/bench_gen_corpus" ] && GEN=$(cd "$d" && pwd)/bench/bench_gen_corpus
  fi
done
[ -n "$HTTP" ] || { echo "ack_bench: no bench_http found (set BENCH_HTTP)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/sawmill-ack.XXXXXX)
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK/data" "$WORK/corpus.ndjson"
  [ "$OUT" = "$WORK/out" ] || rm -rf "$WORK"
}
trap cleanup EXIT

CORPUS=${CORPUS:-}
if [ -z "$CORPUS" ]; then
  [ -n "$GEN" ] || { echo "ack_bench: no bench_gen_corpus found (set CORPUS)" >&2; exit 2; }
  CORPUS=$WORK/corpus.ndjson
  "$GEN" --lines "$LINES" --out "$CORPUS" \
    --data "${SAWMILL_SHARED_DIR:-$ROOT/../shared}/data/real" >/dev/null
fi
TICK=$(getconf CLK_TCK)
loadavg() { cut -d' ' -f1 /proc/loadavg; }

echo "| run | build | ack p50 ms | ack p99 ms | max ms | 429s | lines/s | server CPU s | peak RSS MiB | load before/after |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
# Every second until killed: the server's memtables, pacing and flushes (LATENCIES=1).
sample_server() {
  local port=$1 out=$2 t0
  t0=$(date +%s.%N)
  while sleep 1; do
    curl -sf "http://127.0.0.1:$port/metrics" 2>/dev/null | awk -v t="$(date +%s.%N)" -v t0="$t0" '
      /^sawmill_memtable_bytes / {mb=$2} /^sawmill_memtable_memory_bytes / {mm=$2}
      /^sawmill_append_stage_seconds_sum\{stage="pace"\}/ {pace=$2}
      /^sawmill_append_stage_seconds_sum\{stage="wal_commit"\}/ {wal=$2}
      /^sawmill_flushes_total / {f=$2} /^sawmill_flushes_under_pressure_total / {fp=$2}
      END {printf "%.1f %s %s %s %s %s %s %.1f\n", t - t0, mb, mm, pace, wal, f, fp, t}' >>"$out" || true
  done
}
# Every second until killed: each thread of the server (LATENCIES=1).
sample_threads() {
  local pid=$1 out=$2 t d comm ran waited st
  while sleep 1; do
    t=$(date +%s.%N)
    for d in /proc/"$pid"/task/*; do
      # stat's 19th field is the nice value (the names have no spaces).
      { read -r comm <"$d/comm" && read -r ran waited _ <"$d/schedstat" &&
        read -r -a st <"$d/stat" && echo "$t ${d##*/} $comm $ran $waited ${st[18]}"; } \
        2>/dev/null || true
    done >>"$out"
  done
}

for run in $(seq 1 "$RUNS"); do
  n=0
  for bin in "${BINS[@]}"; do
    n=$((n + 1))
    rm -rf "$WORK/data"
    mkdir -p "$WORK/data"
    PORT=$(free_port)
    "$bin" server --data "$WORK/data" --http "127.0.0.1:$PORT" ${SERVER_ARGS:-} \
      >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$PORT" "$SERVER_PID" "$WORK/server.log"
    L0=$(loadavg)
    C0=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    LAT_ARGS=()
    SAMPLER=""
    if [ "${LATENCIES:-0}" = 1 ]; then
      LAT_ARGS=(--latencies "$OUT/acks-$run-$n.txt")
      sample_server "$PORT" "$OUT/server-$run-$n.txt" &
      SAMPLER=$!
      sample_threads "$SERVER_PID" "$OUT/threads-$run-$n.txt" &
      SAMPLER="$SAMPLER $!"
    fi
    "$HTTP" ingest --addr "127.0.0.1:$PORT" --file "$CORPUS" --clients 2 \
      --batch-bytes 4194304 --lines "$LINES" --retry-429 1 "${LAT_ARGS[@]}" >"$WORK/ingest.json"
    if [ -n "$SAMPLER" ]; then
      # shellcheck disable=SC2086
      kill $SAMPLER 2>/dev/null || true
      # shellcheck disable=SC2086
      wait $SAMPLER 2>/dev/null || true
    fi
    C1=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    SCHED=$(cat /proc/"$SERVER_PID"/task/*/schedstat 2>/dev/null |
      awk '{r += $1; w += $2; if ($1 > mr) {mr = $1; mw = $2}}
           END {printf "%.1f %.1f %.1f %.1f", r / 1e9, w / 1e9, mr / 1e9, mw / 1e9}')
    HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
    L1=$(loadavg)
    curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt" || true
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=""
    [ "${LATENCIES:-0}" = 1 ] && cp "$WORK/server.log" "$OUT/serverlog-$run-$n.txt"
    python3 - "$WORK/ingest.json" "$WORK/metrics.txt" "$run" "$bin" "$C0" "$C1" "$TICK" "$HWM" \
      "$L0" "$L1" "$OUT/results.jsonl" "$SCHED" <<'EOF'
import json, re, sys
ingest, metrics, run, binary, c0, c1, tick, hwm, l0, l1, out, sched = sys.argv[1:]
r = json.load(open(ingest))
cpu = (int(c1) - int(c0)) / int(tick)
r.update(run=int(run), build=binary, server_cpu_s=cpu, peak_rss_mib=int(hwm) / 1024,
         load_before=float(l0), load_after=float(l1))
ran, waited, top_ran, top_waited = (float(x) for x in sched.split())
r.update(threads_ran_s=ran, threads_waited_s=waited, busiest_ran_s=top_ran,
         busiest_waited_s=top_waited)
# Where Append's time went: sawmill_append_stage_seconds{stage} (sum, count, slowest bucket).
stages = {}
for line in open(metrics, errors="replace"):
    m = re.match(r'sawmill_append_stage_seconds_(sum|count|bucket)\{(.*)\} (\S+)', line)
    if not m:
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
    s = stages.setdefault(labels["stage"], {"buckets": []})
    if m.group(1) == "bucket":
        s["buckets"].append((float(labels["le"]), float(m.group(3))))
    else:
        s[m.group(1)] = float(m.group(3))
for name, s in stages.items():
    b = sorted(s.pop("buckets"))
    n = s.get("count", 0)
    # The bucket bound under which 99% of the stage's observations fell.
    s["p99_le_s"] = next((le for le, c in b if n and c >= 0.99 * n), None)
r["append_stages"] = stages
with open(out, "a") as f:
    f.write(json.dumps(r) + "\n")
ok = r["lines_acked"] == r["lines_sent"]
print(f"| {run} | {binary} | {r['ack_p50_ms']:.0f} | {r['ack_p99_ms']:.0f} | {r['ack_max_ms']:.0f} | "
      f"{r['retried_429']} | {r['lines_per_s']:.0f} | {cpu:.1f} | {r['peak_rss_mib']:.0f} | "
      f"{l0} / {l1} |" + ("" if ok else f" **{r['lines_acked']} of {r['lines_sent']} acked**"))
print(f"|  | server threads ran {ran:.1f} s and waited {waited:.1f} s for a CPU; the busiest "
      f"ran {top_ran:.1f} s and waited {top_waited:.1f} s |||||||||")
if stages:
    parts = [f"{k} {v.get('sum', 0):.1f} s (n={v.get('count', 0):.0f}, p99 ≤ {v['p99_le_s']} s)"
             for k, v in sorted(stages.items())]
    print("|  | append stages: " + "; ".join(parts) + " |||||||||")
EOF
    if [ "${LATENCIES:-0}" = 1 ] && [ -s "$OUT/acks-$run-$n.txt" ]; then
      python3 - "$OUT/acks-$run-$n.txt" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
win = {}
for row in rows:
    sent, ms = row[1], row[2]
    win.setdefault(int(float(sent) // 10), []).append(float(ms))
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]
print("|  | acks by 10 s of send time (p50/p99 ms): " +
      ", ".join(f"{k * 10}s {pct(v, 0.5):.0f}/{pct(v, 0.99):.0f}" for k, v in sorted(win.items())) +
      " |||||||||")
EOF
      python3 - "$OUT/acks-$run-$n.txt" "$OUT/threads-$run-$n.txt" <<'EOF'
import sys
# The acks' send times have their own origin; their fourth column is the same send in Unix
# seconds, the threads' clock.
rows = [l.split() for l in open(sys.argv[1])]
t0 = min(float(r[3]) - float(r[1]) for r in rows if len(r) >= 4)
last = {}  # tid -> (ran, waited): each sample's difference falls in the window of its time
use = {}   # window -> name -> [ran s, waited s]
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) < 5:
        continue
    t, tid, name, ran, waited = float(f[0]), f[1], f[2], int(f[3]), int(f[4])
    r0, w0 = last.get(tid, (ran, waited))
    last[tid] = (ran, waited)
    name = name if name.startswith("sawmill-") else "other"
    u = use.setdefault(int((t - t0) // 10), {}).setdefault(name, [0.0, 0.0])
    u[0] += (ran - r0) / 1e9
    u[1] += (waited - w0) / 1e9
parts = []
for k, names in sorted(use.items()):
    if k < 0:
        continue
    parts.append(f"{k * 10}s " + " ".join(
        f"{n.removeprefix('sawmill-')} {v[0]:.1f}/{v[1]:.1f}" for n, v in sorted(names.items())
        if v[0] >= 0.05 or v[1] >= 0.05))
print("|  | threads by 10 s of send time (ran/waited for a CPU, s): " + "; ".join(parts) +
      " |||||||||")
EOF
    fi
  done
done
