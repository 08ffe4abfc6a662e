# Shell helpers shared by the bench scripts that start a `sawmill server` of their own
# (ack_bench.sh, profile_ingest.sh, callgrind_ingest.sh). Source it: `. "$ROOT/bench/lib.sh"`.

# free_port: prints a free loopback TCP port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_ready PORT PID LOG [SECONDS]: waits until the server on PORT answers /readyz. Fails, with
# the last lines of LOG, when process PID has exited or SECONDS (default 120) have passed, so a
# bench never measures a server that did not start.
wait_ready() {
  local port=$1 pid=$2 log=$3 limit=${4:-120} start=$SECONDS
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench: the server (pid $pid) exited before it was ready; $log ends:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      echo "bench: the server on port $port was not ready after ${limit}s; $log ends:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.2
  done
}
