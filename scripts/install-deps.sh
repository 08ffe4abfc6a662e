#!/usr/bin/env bash
# Installs every Debian package Sawmill needs to build, test and benchmark. Idempotent: when
# everything is present it does nothing (no apt-get update, no network).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libsimdjson-dev libre2-dev libroaring-dev libxxhash-dev liblz4-dev libzstd-dev
  libsqlite3-dev sqlite3 libpq-dev prometheus-cpp-dev libyaml-cpp-dev libcli11-dev libfmt-dev
  libspdlog-dev libprotobuf-dev protobuf-compiler libsnappy-dev libssl-dev
  libcurl4-openssl-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev
  clang-tidy clang-format
  # `make fuzz`: clang with libFuzzer and the sanitizer runtimes.
  clang libclang-rt-14-dev
  # Used by tests and benchmarks: real clients and baselines.
  curl python3 zstd lz4 gzip ripgrep util-linux bsdutils rsyslog
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# Node.js (for the interop tests' real clients) may come from Debian or from another packaging
# that bundles npm; ask for Debian's only when neither command is there.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
