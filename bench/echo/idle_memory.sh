#!/usr/bin/env bash
# Server memory per idle connection: opens 10,000 idle connections to
# reactor-echod and, for reference, to the fastest peer (libevent with plain
# events), and reports each server's VmRSS growth per connection.
#
#   bash bench/echo/idle_memory.sh [--connections N] [--send-bytes B]
#                                  [--servers LIST] [--build-dir DIR] [--no-build]
#
#   --connections N  idle connections per server (default 10000)
#   --send-bytes B   echo B bytes on each connection before it idles (default 0),
#                    to count buffers a server allocates on first data
#   --servers LIST   comma-separated, from reactor-echod, echo-libevent-event,
#                    echo-libevent-bufferevent, echo-asio
#                    (default reactor-echod,echo-libevent-event)
#   --build-dir DIR  build directory (default build-bench at the repository root)
#   --no-build       use the binaries already in the build directory
# Env BENCH_MESON_OPTIONS adds options to a new build (as in run.sh).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=$repo_root/build-bench
build=1
connections=10000
send_bytes=0
servers=(reactor-echod echo-libevent-event)

while (($# > 0)); do
  case $1 in
    --connections) connections=$2; shift 2 ;;
    --send-bytes) send_bytes=$2; shift 2 ;;
    --servers) IFS=, read -r -a servers <<<"$2"; shift 2 ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
done

specs=()
for server in "${servers[@]}"; do
  case $server in
    reactor-echod)
      target=apps/echod/reactor-echod
      spec="$server=$build_dir/$target --bind 127.0.0.1"
      ;;
    echo-libevent-event | echo-libevent-bufferevent | echo-asio)
      target=bench/echo/$server
      spec="$server=$build_dir/$target"
      ;;
    *) echo "idle_memory.sh: unknown server '$server'" >&2; exit 2 ;;
  esac
  if ((build)); then
    if [[ ! -f $build_dir/build.ninja ]]; then
      read -r -a extra_meson_options <<<"${BENCH_MESON_OPTIONS:-}"
      meson setup "$build_dir" "$repo_root" --wrap-mode=nodownload \
        -Dbench=true -Dbuildtype=release -Dtests=false -Dexamples=false \
        "${extra_meson_options[@]}" >/dev/null
    fi
    ninja -C "$build_dir" -j2 "$target" >/dev/null ||
      echo "idle_memory.sh: warning: building $target failed" >&2
  fi
  if [[ -x $build_dir/$target ]]; then
    specs+=("$spec")
  else
    echo "idle_memory.sh: warning: $build_dir/$target not found; $server is left out" >&2
  fi
done
((${#specs[@]} > 0)) || { echo "idle_memory.sh: no server to measure" >&2; exit 1; }

# The server and the client each hold one descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 "$repo_root/bench/echo/idle_memory.py" --connections "$connections" \
  --send-bytes "$send_bytes" "${specs[@]}"
