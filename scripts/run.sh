#!/usr/bin/env bash
# Installs what is missing, builds, and serves the demo site:
#   bash scripts/run.sh [PORT [DIR]]     (default: 8080 examples/site)
# Open http://127.0.0.1:PORT/ ; Ctrl-C stops the server gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${1:-8080}
site=${2:-examples/site}

bash scripts/install-deps.sh --server  # not the test tools (Chromium, clang...)
if [[ ! -f build-release/build.ninja ]]; then
  meson setup build-release --wrap-mode=nodownload -Dbuildtype=release -Dtests=false \
    -Dexamples=false >/dev/null
fi
ninja -C build-release -j "$(nproc)" >/dev/null

echo "serving $site on http://127.0.0.1:$port/ (Ctrl-C to stop)" >&2
exec build-release/apps/httpd/reactor-httpd "$port" "$site" --bind 127.0.0.1 --access-log -
