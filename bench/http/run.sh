#!/usr/bin/env bash
# HTTP benchmark: reactor-httpd vs nginx, lighttpd and h2o (see README.md).
#   bash bench/http/run.sh [bench.py options...]
# e.g. bash bench/http/run.sh --seconds 5 --rounds 1 --scenarios 1k,64k
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/install-deps.sh --bench
if [[ ! -f build-bench-http/build.ninja ]]; then
  meson setup build-bench-http --wrap-mode=nodownload -Dbuildtype=release -Dtests=false \
    -Dexamples=false >/dev/null
fi
ninja -C build-bench-http apps/httpd/reactor-httpd >/dev/null

mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
python3 bench/http/bench.py --httpd build-bench-http/apps/httpd/reactor-httpd \
  --json "bench/results/http-$stamp.json" "$@" | tee "bench/results/http-$stamp.txt"
