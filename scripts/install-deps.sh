#!/usr/bin/env bash
# Installs every Debian package Sawmill needs to build, test and benchmark. Idempotent: when
# everything is present it does nothing (no apt-get update, no network).
set -euo pipefail

# Each package is here because something in the repository uses it; the comment says what.
PACKAGES=(
  # The build: compiler, CMake + Ninja (Makefile), ccache, pkg-config (CMakeLists.txt), git
  # (`make lint` lists the files with it, bench/run.py records the commit).
  build-essential cmake ninja-build ccache pkg-config git
  # The libraries of CMakeLists.txt's find_package / pkg_check_modules, in that order.
  libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libsimdjson-dev libre2-dev libroaring-dev libxxhash-dev liblz4-dev libzstd-dev
  libsqlite3-dev prometheus-cpp-dev libyaml-cpp-dev libcli11-dev libfmt-dev
  libspdlog-dev libprotobuf-dev protobuf-compiler libsnappy-dev zlib1g-dev
  libgtest-dev libgmock-dev libjemalloc-dev
  # The agent's HTTP sender (src/agent/CMakeLists.txt).
  libcurl4-openssl-dev
  # API tokens and the audit chain: RAND_bytes, SHA-256, CRYPTO_memcmp (src/auth/CMakeLists.txt).
  libssl-dev
  # `make lint`.
  clang-tidy clang-format
  # The zone database (/usr/share/zoneinfo) that src/common/timezone.cc reads zones from.
  tzdata
  # `make fuzz`: clang with libFuzzer and the sanitizer runtimes.
  clang libclang-rt-14-dev
  # Tests and benchmarks: curl (tests/cli), python3 (tests/e2e, tests/agent, tests/drill,
  # bench/run.py), zstd (bench baselines), lz4 (tests/e2e/e2e_memory_test.py), ripgrep (bench
  # baselines), util-linux (unshare: tests/e2e/e2e_disk_full_test.py), bsdutils (logger) and
  # rsyslog (tests/interop), openssl (tests/e2e/e2e_tls_test.py makes its CA and certificates)
  # and rsyslog-openssl (rsyslog's TLS stream driver, syslog over TLS in e2e_tls_test.py).
  curl python3 zstd lz4 ripgrep util-linux bsdutils rsyslog openssl rsyslog-openssl
  # The S3 store's tests and benchmark run against a real S3 API: OpenStack Swift with its s3api
  # middleware, started on loopback by ../shared/scripts/s3-swift.sh (scripts/s3-test-store.sh);
  # libssl-dev for the S3 store's MD5 and SHA-256 (src/objstore/CMakeLists.txt).
  swift swift-proxy swift-object swift-account swift-container libssl-dev
  # The web UI's browser tests (web/tests, ctest label ui): Playwright drives Debian's chromium
  # (npm's Playwright never downloads a browser here); DejaVu so that screenshots have glyphs.
  chromium fonts-dejavu-core
  # tests/e2e/e2e_alerts_test.py: the real Alertmanager that alerts are posted to (the test starts
  # the binary itself on a loopback port; the package's systemd service plays no part).
  prometheus-alertmanager
  linux-perf
  # bench/areas/peers.py builds its peers (Grafana Loki, VictoriaLogs) from local Go sources
  # given by LOKI_SRC / VL_SRC (vendored modules, GOPROXY=off: nothing is downloaded), with
  # Debian's Go 1.19. (Debian's package `loki` is an unrelated genetics program, not Grafana
  # Loki; no peer is installed as a package, and none runs as a system service.)
  golang-go
  # The catalog in PostgreSQL (src/catalog/pg_catalog.cc): libpq to build; the server for its
  # tests, a private cluster on loopback started by ../shared/scripts/pg-local.sh
  # (scripts/pg-test-server.sh; the package's own cluster is never started or used).
  libpq-dev postgresql
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# Node.js (the web UI's build, web/CMakeLists.txt, and the interop tests' real clients) may come
# from Debian or from another packaging that bundles npm; ask for Debian's only when neither command is there.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
# Packages with daemons (Swift) must not start them at install: the tests start their own on
# free ports. A policy-rc.d that refuses every start, only for this install, unless one exists.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
