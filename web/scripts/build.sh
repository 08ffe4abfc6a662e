#!/usr/bin/env bash
# Builds the web UI into $1/dist and embeds it as $1/ui_assets.cc (run by web/CMakeLists.txt).
# Fails loudly (non-zero) when npm, the packages or the build fail: a server without its UI is
# never built silently.
set -euo pipefail
out="$1"
cd "$(dirname "$0")/.."
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# npm ci only when the lock file changed since the last install (npm writes
# node_modules/.package-lock.json at every install).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node node_modules/typescript/bin/tsc --noEmit -p .
node node_modules/vite/bin/vite.js build --outDir "$out/dist" --emptyOutDir --logLevel warn
node scripts/embed.mjs "$out/dist" "$out/ui_assets.cc"
