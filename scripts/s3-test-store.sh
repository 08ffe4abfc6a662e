#!/usr/bin/env bash
# The ctest fixture "s3_store" (src/objstore/CMakeLists.txt): a real S3 API on loopback for the
# tests that need one, through the shared ../shared/scripts/s3-swift.sh (OpenStack Swift + s3api).
#
#   s3-test-store.sh start DIR   picks free loopback ports (PORT..PORT+3) and starts Swift with its
#                                state under DIR; retries with other ports if one is taken meanwhile
#   s3-test-store.sh stop DIR    stops the daemons recorded under DIR and removes DIR
#
# Tests read the endpoint and credentials with `s3-swift.sh env DIR`. Exits non-zero when the
# store cannot start, so the tests that need it fail (they never skip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SAWMILL_SHARED_DIR:-$here/../../shared}
swift=$shared/scripts/s3-swift.sh
[ -r "$swift" ] || { echo "s3-test-store: $swift not found (set SAWMILL_SHARED_DIR)" >&2; exit 1; }

cmd=${1:?usage: s3-test-store.sh start|stop DIR}
dir=${2:?usage: s3-test-store.sh start|stop DIR}

free_port_block() {  # a PORT with PORT..PORT+3 free on 127.0.0.1
  python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 60000, 4)
    socks = []
    try:
        for q in range(p, p + 4):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            socks.append(s)
        print(p)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
}

case $cmd in
  start)
    mkdir -p "$dir"
    for attempt in 1 2 3 4 5; do
      port=$(free_port_block)
      if bash "$swift" start "$dir" "$port"; then exit 0; fi
      echo "s3-test-store: start on port $port failed (attempt $attempt)" >&2
      bash "$swift" stop "$dir" || true
    done
    exit 1
    ;;
  stop)
    bash "$swift" stop "$dir"
    rm -rf "$dir"
    ;;
  *) echo "usage: s3-test-store.sh start|stop DIR" >&2; exit 2 ;;
esac
