#!/usr/bin/env bash
# `sawmill ingest | search | tail | admin flush` against a real `sawmill server` on a free
# loopback port with a temporary data directory. Counts are checked against independent counts of
# the raw Loghub HDFS file (grep), not against the normaliser.
# Usage: cli_roundtrip_test.sh SAWMILL_BINARY SHARED_DIR
set -u
bin="$1"
shared="${2:-${SAWMILL_SHARED_DIR:-}}"
hdfs="$shared/data/real/loghub_2k/HDFS/HDFS_2k.log"
if [ ! -f "$hdfs" ]; then
  # The real dataset is part of the test: without it the search counts below check nothing.
  echo "FAIL: $hdfs is missing (the shared/ folder with data/real; pass it as the second" \
    "argument or set SAWMILL_SHARED_DIR)"
  exit 1
fi
work=$(mktemp -d /tmp/sawmill-cli-test.XXXXXX)
server_pid=""
tail_pid=""
cleanup() {
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
expect_eq() {  # expect_eq <what> <want> <got>
  if [ "$2" == "$3" ]; then ok "$1 = $3"; else bad "$1: want '$2', got '$3'"; fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
# High watermarks: what this test checks must not depend on how full the machine's disk is (past
# 80 % used the disk watch would re-encode the segments warm under it; tests/e2e/e2e_lib.py).
"$bin" server --data "$work/data" --http "127.0.0.1:$port" --welcome ./build/sawmill \
  --disk-watermarks 99%,99.5%,99.9% >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sf "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! curl -sf "$url/readyz" >/dev/null 2>&1; then
  echo "FAIL: server did not become ready"; cat "$work/server.log"; exit 1
fi
ok "server ready on $url"

# `make run` (--welcome): once ready, the URL, where the data lives and three commands to try.
for _ in $(seq 1 50); do
  grep -q 'Sawmill is ready at' "$work/server.log" && break
  sleep 0.1
done
want_welcome="Sawmill is ready at $url/
Data (write-ahead log, segments, catalog): $work/data
  (stop the server and delete it to start over)
Try, in another terminal:
  echo '{\"service\":\"payments\",\"level\":\"error\",\"msg\":\"card declined\"}' | ./build/sawmill ingest --server $url
  ./build/sawmill search --server $url --since 1h 'level>=ERROR'
  ./build/sawmill tail --server $url --level=WARN
Another address for the command line: --server URL or SAWMILL_SERVER=URL. Ctrl-C stops the server; every acknowledged line is kept."
got_welcome=$(grep -A7 '^Sawmill is ready at' "$work/server.log")
expect_eq "welcome text" "$want_welcome" "$got_welcome"

# Live tail, the on-call form: opened before the lines are ingested, it must see exactly the
# checkout lines at ERROR and above, in ingest order.
"$bin" tail --server "$url" --service=checkout --level=ERROR --max-lines 2 --no-reconnect \
  >"$work/tail.out" 2>"$work/tail.err" &
tail_pid=$!
for _ in $(seq 1 100); do
  curl -s "$url/metrics" | grep -q '^sawmill_tail_sessions 1' && break
  sleep 0.1
done

printf '%s\n' \
  '{"service":"checkout","level":"info","msg":"cart viewed"}' \
  '{"service":"checkout","level":"error","msg":"card declined","trace_id":"abc123"}' \
  '{"service":"payments","level":"error","msg":"other service"}' \
  '' \
  '{"service":"checkout","level":"warn","msg":"slow"}' \
  'plain FATAL line from checkout' |
  "$bin" ingest --server "$url" --service checkout --host web-1 2>"$work/ingest1.err"
expect_eq "ingest from stdin exit" 0 $?
grep -q "5 accepted, 1 skipped" "$work/ingest1.err" && ok "ingest summary counts" ||
  bad "ingest summary: $(cat "$work/ingest1.err")"

for _ in $(seq 1 100); do
  kill -0 "$tail_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$tail_pid" 2>/dev/null; then
  bad "tail did not receive its 2 lines"; cat "$work/tail.err"
else
  wait "$tail_pid"
  expect_eq "tail exit" 0 $?
fi
tail_pid=""
expect_eq "tail lines" 2 "$(wc -l <"$work/tail.out")"
grep -q 'checkout web-1 ERROR card declined$' "$work/tail.out" && ok "tail saw the ERROR" ||
  bad "tail output: $(cat "$work/tail.out")"
grep -q 'checkout web-1 FATAL plain FATAL line from checkout$' "$work/tail.out" &&
  ok "tail saw the FATAL" || bad "tail output: $(cat "$work/tail.out")"

# A real file, in batches of 300 lines so that several requests are made.
"$bin" ingest --server "$url" --service hdfs --batch-lines 300 "$hdfs" 2>"$work/ingest2.err"
expect_eq "ingest HDFS exit" 0 $?
lines=$(grep -c '' "$hdfs")
warns=$(grep -c ' WARN ' "$hdfs")
"$bin" admin flush --server "$url" >"$work/flush.out"
expect_eq "admin flush exit" 0 $?
grep -q '^flushed' "$work/flush.out" && ok "admin flush answer" || bad "flush: $(cat "$work/flush.out")"

got=$("$bin" search --server "$url" --since 1h --limit 10000 'service=hdfs' 2>"$work/search.err" | wc -l)
expect_eq "HDFS lines found by search" "$lines" "$got"
grep -q "^$(python3 -c "print(f'{$lines:,}')") hits in " "$work/search.err" &&
  ok "stats line" || bad "stats line: $(cat "$work/search.err")"
got=$("$bin" search --server "$url" --limit 10000 'service=hdfs level=WARN' 2>/dev/null | wc -l)
expect_eq "HDFS WARN lines (grep ' WARN ')" "$warns" "$got"
"$bin" search --server "$url" 'service=hdfs | count by level' >"$work/pipe.out" 2>/dev/null
grep -Eq "^WARN +$warns\$" "$work/pipe.out" && ok "pipe table" || bad "pipe table: $(cat "$work/pipe.out")"
# A full page says how many matched (a lower bound) and how to see more; --all sees them all.
got=$("$bin" search --server "$url" 'service=hdfs' 2>"$work/page.err" | wc -l)
expect_eq "search default page" 100 "$got"
echo "   $(cat "$work/page.err")"
grep -Eq "^100 newest (of at least [0-9,]+ matches|matches \(there may be more\)); -n 1000 or --all for more, '\| count' to count them · in " "$work/page.err" &&
  ok "full page says there are more" || bad "full page: $(cat "$work/page.err")"
got=$("$bin" search --server "$url" --all 'service=hdfs' 2>"$work/all.err" | wc -l)
expect_eq "search --all" "$lines" "$got"
grep -Eq "^$(python3 -c "print(f'{$lines:,}')") hits in .* · read [0-9]+ of [0-9]+ segments?[: ]" "$work/all.err" &&
  ok "--all stats line" || bad "--all stats line: $(cat "$work/all.err")"
"$bin" search --server "$url" 'service=hdfs nosuchwordanywhere' 2>"$work/none.err" >/dev/null
grep -Eq "^0 hits in .* · read 0 of [0-9]+ segments?: the index ruled out [1-9]" "$work/none.err" &&
  ok "stats line says the index ruled segments out" || bad "index words: $(cat "$work/none.err")"
"$bin" search --server "$url" --all -n 5 'service=hdfs' >/dev/null 2>"$work/alln.err"
expect_eq "--all with -n is a usage error" 2 $?
got=$("$bin" search --server "$url" --json --limit 3 'service=hdfs' 2>/dev/null |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["hits"]))')
expect_eq "search --json hits" 3 "$got"

got=$("$bin" search --server "$url" 'service=checkout trace_id=abc123' 2>/dev/null)
grep -q 'ERROR card declined' <<<"$got" && ok "search by trace_id" || bad "trace search: $got"

"$bin" search --server "$url" 'level=' >/dev/null 2>"$work/syntax.err"
expect_eq "syntax error exit" 1 $?
grep -q "at 1:" "$work/syntax.err" && ok "syntax error position" || bad "syntax: $(cat "$work/syntax.err")"
"$bin" search --server "$url" '(level=ERROR' >/dev/null 2>"$work/paren.err"
expect_eq "unclosed paren exit" 1 $?
grep -qF "sawmill search: missing ')' to close the '(' at 1:1" "$work/paren.err" &&
  ok "unclosed paren names the '('" || bad "paren: $(cat "$work/paren.err")"
# Spaces around '=' are allowed (docs/query-language.md): the same hit as without.
got=$("$bin" search --server "$url" 'service = checkout trace_id = abc123' 2>&1)
grep -q 'ERROR card declined' <<<"$got" && ok "spaces around '='" || bad "spaces around '=': $got"

"$bin" tail --server "$url" 'level=ERROR | count by service' --no-reconnect >/dev/null 2>"$work/tailpipe.err"
expect_eq "tail with a pipe exit" 1 $?

# Nothing listens: the error names the address tried and how to give another one.
SAWMILL_SERVER="http://127.0.0.1:1" "$bin" search 'level=ERROR' >/dev/null 2>"$work/refused.err"
expect_eq "search a dead server exit" 1 $?
grep -qF 'sawmill search: cannot connect to http://127.0.0.1:1: Connection refused (is `sawmill server` running there? Another address: --server http://HOST:PORT or SAWMILL_SERVER=http://HOST:PORT)' "$work/refused.err" &&
  ok "connection refused names the address and SAWMILL_SERVER" || bad "refused: $(cat "$work/refused.err")"

echo '{"msg":"x"}' | "$bin" ingest --retries 1 --server "http://127.0.0.1:1" 2>"$work/down.err"
expect_eq "ingest to a dead server exit" 1 $?
grep -q "giving up on lines 1-1 of standard input after 2 attempts" "$work/down.err" &&
  ok "dead server message" || bad "dead server: $(cat "$work/down.err")"

# Tail survives a server restart: it reconnects with backoff and sees lines ingested afterwards.
"$bin" tail --server "$url" --service=reconnect --max-lines 1 >"$work/tail2.out" 2>"$work/tail2.err" &
tail_pid=$!
for _ in $(seq 1 100); do
  curl -s "$url/metrics" | grep -q '^sawmill_tail_sessions 1' && break
  sleep 0.1
done
kill -TERM "$server_pid"
wait "$server_pid"
expect_eq "server exit on SIGTERM" 0 $?
# (Restarted with small tail queues for the slow-client check below.)
"$bin" server --data "$work/data" --http "127.0.0.1:$port" --tail-queue 100 >>"$work/server.log" 2>&1 &
server_pid=$!
reconnected=no
for _ in $(seq 1 150); do
  if curl -s "$url/metrics" | grep -q '^sawmill_tail_sessions 1'; then reconnected=yes; break; fi
  sleep 0.1
done
expect_eq "tail reconnected after a restart" yes "$reconnected"
echo '{"service":"reconnect","level":"info","msg":"after restart"}' |
  "$bin" ingest -q --server "$url"
for _ in $(seq 1 50); do
  kill -0 "$tail_pid" 2>/dev/null || break
  sleep 0.1
done
kill "$tail_pid" 2>/dev/null
tail_pid=""
grep -q 'reconnect - INFO  after restart$' "$work/tail2.out" && ok "tail line after the restart" ||
  bad "tail after restart: $(cat "$work/tail2.out" "$work/tail2.err")"
grep -q 'reconnecting in' "$work/tail2.err" && ok "tail said it was reconnecting" ||
  bad "tail stderr: $(cat "$work/tail2.err")"
# What was acknowledged before the restart is still there.
got=$("$bin" search --server "$url" 'service=checkout trace_id=abc123' 2>/dev/null | wc -l)
expect_eq "acknowledged lines after the restart" 1 "$got"

# A tail client that stops reading (SIGSTOP) loses lines but is told how many: every ingested line
# is either printed or counted in a "... N lines dropped" notice once it reads again.
"$bin" tail --server "$url" --service=slow >"$work/tail3.out" 2>"$work/tail3.err" &
tail_pid=$!
for _ in $(seq 1 100); do
  curl -s "$url/metrics" | grep -q '^sawmill_tail_sessions 1' && break
  sleep 0.1
done
kill -STOP "$tail_pid"
total=100000
python3 -c "
import json
for i in range($total):
    print(json.dumps({'service': 'slow', 'msg': 'line %d ' % i + 'x' * 100}))" >"$work/slow.ndjson"
"$bin" ingest -q --server "$url" "$work/slow.ndjson"
kill -CONT "$tail_pid"
accounted=0
for _ in $(seq 1 100); do
  printed=$(grep -c ' line ' "$work/tail3.out")
  dropped=$(grep -o '^\.\.\. [0-9,]* line' "$work/tail3.out" | tr -dc '0-9\n' | awk '{ s += $1 } END { print s + 0 }')
  accounted=$((printed + ${dropped:-0}))
  [ "$accounted" -ge "$total" ] && break
  sleep 0.1
done
kill "$tail_pid" 2>/dev/null
tail_pid=""
expect_eq "slow tail: printed + dropped" "$total" "$accounted"
grep -q 'lines dropped' "$work/tail3.out" && ok "slow tail was told about drops" ||
  bad "no dropped notice: $(tail -3 "$work/tail3.out")"

# --output jsonl / raw, --tenant, -C and `sawmill context`.
got=$("$bin" search --server "$url" --output jsonl --limit 3 'service=hdfs' 2>/dev/null |
  python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l)["service"] == "hdfs"))')
expect_eq "search --output jsonl: one record per line" 3 "$got"
raw=$("$bin" search --server "$url" --output raw --limit 1 'service=hdfs' 2>/dev/null)
tr -d '\r' <"$hdfs" | grep -qxF -- "$raw" && ok "search --output raw prints the stored line" ||
  bad "raw line not in HDFS_2k.log: $raw"
"$bin" search --server "$url" --output raw 'service=hdfs | count' 2>/dev/null >"$work/rawcount.out"
expect_eq "search --output raw of a pipe" "$lines" "$(cat "$work/rawcount.out")"
printf '{"service":"acme-app","msg":"only for acme"}\n' |
  "$bin" ingest --server "$url" --tenant acme >/dev/null 2>&1
expect_eq "--tenant acme sees its line" 1 \
  "$("$bin" search --server "$url" --tenant acme --output raw 'service=acme-app' 2>/dev/null | wc -l)"
expect_eq "SAWMILL_TENANT=acme sees its line" 1 \
  "$(SAWMILL_TENANT=acme "$bin" search --server "$url" --output raw 'service=acme-app' 2>/dev/null | wc -l)"
expect_eq "the default tenant does not see acme's line" 0 \
  "$("$bin" search --server "$url" --output raw 'service=acme-app' 2>/dev/null | wc -l)"
id=$("$bin" search --server "$url" --output jsonl --limit 1 'service=hdfs' 2>/dev/null |
  python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
"$bin" context --server "$url" -B 2 -A 0 "$id" >"$work/context.out" 2>&1
expect_eq "sawmill context -B 2 -A 0: lines" 3 "$(wc -l <"$work/context.out")"
expect_eq "sawmill context marks the record" 1 "$(grep -c '^> ' "$work/context.out")"
expect_eq "sawmill context: the record is last" "> " "$(tail -1 "$work/context.out" | cut -c1-2)"
"$bin" search --server "$url" -C 1 -n 2 'service=hdfs' >"$work/ctx.out" 2>/dev/null
expect_eq "search -C 1 -n 2: two groups" 1 "$(grep -c '^--$' "$work/ctx.out")"
expect_eq "search -C 1 -n 2: two hits marked" 2 "$(grep -c '^> ' "$work/ctx.out")"
"$bin" context --server "$url" 999999999 >/dev/null 2>"$work/noctx.err"
expect_eq "context of an unknown id exit" 1 $?
"$bin" context --server "$url" abc >/dev/null 2>"$work/badctx.err"
expect_eq "context of a non-number exit" 2 $?
grep -q "not a record id" "$work/badctx.err" && ok "context says what an id is" ||
  bad "context error: $(cat "$work/badctx.err")"

# sawmill values (exact, on the server) and sawmill fields (a sample of the newest lines).
"$bin" values --server "$url" level 'service=hdfs' >"$work/values.out" 2>&1
want_info=$(tr -d '\r' <"$hdfs" | grep -c ' INFO ')
got_info=$(awk '$1 == "INFO" { print $2 }' "$work/values.out" | tr -d ,)
expect_eq "sawmill values level: INFO count" "$want_info" "$got_info"
"$bin" fields --server "$url" --sample 50 'service=checkout' >"$work/fields.out" 2>"$work/fields.err"
grep -qE '^trace_id +[0-9]' "$work/fields.out" && ok "sawmill fields lists trace_id" ||
  bad "sawmill fields: $(cat "$work/fields.out")"
grep -q "in the newest" "$work/fields.err" && ok "sawmill fields says it is a sample" ||
  bad "sawmill fields stderr: $(cat "$work/fields.err")"

exit $fail
