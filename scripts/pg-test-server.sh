#!/usr/bin/env bash
# The ctest fixture "pg_server" (src/catalog/CMakeLists.txt): a private PostgreSQL 15 on loopback
# for the tests that need one, through the shared ../shared/scripts/pg-local.sh (initdb in DIR,
# run as the postgres user, trust authentication on 127.0.0.1 only).
#
#   pg-test-server.sh start DIR   picks a free loopback port, starts the cluster with its data under
#                                 DIR and writes the connection URL to DIR/url; retries with
#                                 another port if one is taken meanwhile
#   pg-test-server.sh stop DIR    stops that cluster and removes DIR
#
# Exits non-zero when PostgreSQL cannot start, so the tests that need it fail (they never skip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SAWMILL_SHARED_DIR:-$here/../../shared}
pg=$shared/scripts/pg-local.sh
[ -r "$pg" ] || { echo "pg-test-server: $pg not found (set SAWMILL_SHARED_DIR)" >&2; exit 1; }

cmd=${1:?usage: pg-test-server.sh start|stop DIR}
dir=${2:?usage: pg-test-server.sh start|stop DIR}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case $cmd in
  start)
    bash "$pg" stop "$dir" >/dev/null 2>&1 || true
    rm -rf "$dir"
    mkdir -p "$dir"
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      if bash "$pg" start "$dir" "$port"; then
        eval "$(bash "$pg" env "$dir")"
        echo "$SAWMILL_TEST_PG" > "$dir/url"
        exit 0
      fi
      echo "pg-test-server: start on port $port failed (attempt $attempt)" >&2
      bash "$pg" stop "$dir" >/dev/null 2>&1 || true
    done
    exit 1
    ;;
  stop)
    bash "$pg" stop "$dir"
    rm -rf "$dir"
    ;;
  *) echo "usage: pg-test-server.sh start|stop DIR" >&2; exit 2 ;;
esac
