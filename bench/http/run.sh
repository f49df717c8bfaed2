#!/usr/bin/env bash
# HTTP benchmark: reactor-httpd vs nginx, lighttpd and h2o (see README.md).
#   bash bench/http/run.sh [bench.py options...]
# e.g. bash bench/http/run.sh --seconds 5 --rounds 1 --scenarios 1k,64k
# Builds reactor-httpd in build-bench/, the release tree bench/echo/run.sh
# uses too, so running both builds the library once.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/install-deps.sh --bench
if [[ ! -f build-bench/build.ninja ]]; then
  meson setup build-bench --wrap-mode=nodownload -Dbench=true -Dbuildtype=release \
    -Dtests=false -Dexamples=false >/dev/null
fi
ninja -C build-bench -j2 apps/httpd/reactor-httpd >/dev/null

mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
python3 bench/http/bench.py --httpd build-bench/apps/httpd/reactor-httpd \
  --json "bench/results/http-$stamp.json" "$@" | tee "bench/results/http-$stamp.txt"
