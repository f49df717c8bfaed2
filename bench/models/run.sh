#!/usr/bin/env bash
# The road to the reactor, measured: every server model of examples/models/
# under the same workloads (pingpong throughput and idle memory at each C,
# p99 latency at a fixed rate), a Markdown table and a chart (PNG and SVG).
#
#   bash bench/models/run.sh [--rounds N] [--seconds T] [--connections 1,10,...]
#                            [--models a,b] [--latency C:RATE,...] [--no-memory]
#                            [--publish] [--build-dir DIR] [--no-build]
#
#   --publish   also copy the chart to docs/images/road-to-the-reactor.{png,svg}
#   other options: see bench/models/run.py --help (they are passed through)
#
# Results go to bench/results/models-DATE/ (git-ignored): table.md, chart.png,
# chart.svg, runs.csv (every run) and the servers' logs. The default run takes
# about five minutes; on a quiet machine, for figures worth publishing:
#   bash bench/models/run.sh --rounds 3 --seconds 5 --publish
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=$repo_root/build-bench
build=1
publish=()
passed=()
while (($# > 0)); do
  case $1 in
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    --publish) publish=(--publish "$repo_root/docs/images/road-to-the-reactor"); shift ;;
    -h | --help) sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) passed+=("$1"); shift ;;
  esac
done

models=(iterative fork_per_client thread_per_client process_pool select poll epoll_lt epoll_et reactor)
if ((build)); then
  read -r -a extra_meson_options <<<"${BENCH_MESON_OPTIONS:-}"
  if [[ ! -f $build_dir/build.ninja ]]; then
    meson setup "$build_dir" "$repo_root" --wrap-mode=nodownload -Dbench=true \
      -Dbuildtype=release -Dtests=false -Dexamples=true "${extra_meson_options[@]}" >/dev/null
  else
    meson configure "$build_dir" -Dbench=true -Dbuildtype=release -Dexamples=true \
      "${extra_meson_options[@]}" >/dev/null
  fi
  targets=(bench/echo/pingpong bench/models/latency)
  for model in "${models[@]}"; do targets+=("examples/models/$model"); done
  ninja -C "$build_dir" -j2 "${targets[@]}" >/dev/null ||
    { echo "run.sh: build failed (ninja -C $build_dir ${targets[*]})" >&2; exit 1; }
fi
command -v gnuplot >/dev/null ||
  echo "run.sh: warning: gnuplot not found (scripts/install-deps.sh --bench); no chart" >&2

# C=10,000 needs more than 20,000 descriptors between client and server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
out_dir=$repo_root/bench/results/models-$(date +%Y%m%d-%H%M%S)
exec python3 "$repo_root/bench/models/run.py" --build-dir "$build_dir" --out-dir "$out_dir" \
  "${publish[@]}" "${passed[@]}"
