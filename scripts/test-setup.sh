#!/usr/bin/env bash
# Installs what the tests need beyond the build: the npm packages of the interop tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f tests/interop/package-lock.json ]; then
  if [ ! -d tests/interop/node_modules ] || [ tests/interop/package-lock.json -nt tests/interop/node_modules ]; then
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
