#!/usr/bin/env bash
# The file-transfer benchmark: RFTP (reactor-fileserver + reactor-fileclient)
# against nginx + curl on loopback.
#
#   bash bench/file/run.sh [--size-mib N] [--rounds N] [--small-files N]
#                          [--build-dir DIR] [--no-build]
#
#   --size-mib N     size of the large file (default 1024, i.e. 1 GiB)
#   --rounds N       runs of each contestant; medians are reported (default 5)
#   --small-files N  number of 4 KiB files in the small-files part (default 1000)
#   --out-dir DIR    where the clients write what they download (default
#                    /dev/shm when it is a tmpfs, else the temporary directory):
#                    memory-backed, so the disk's write-back speed is not
#                    what gets measured
#   --build-dir DIR  build directory (default build-bench at the repository root)
#   --no-build       use the binaries already in the build directory
#
# Part 1, large file: `reactor-fileclient get` vs `curl -o` fetching the same
# file from nginx (sendfile on), alternating runs, MiB/s and the ratio.
# Part 2, small files: a pipelined `reactor-fileclient put` of all of them
# (each one fsync'ed and renamed before its ack), a pipelined RFTP download
# of all of them (bench/file/rftp-get-many), and one curl process fetching
# them all from nginx over one keep-alive connection.
#
# Servers run on CPU 0, clients on CPU 1 (env SERVER_CPU, CLIENT_CPU). The
# files live in a temporary directory under /tmp, removed at the end. The
# results are printed and saved in bench/results/file-<date>.txt.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
size_mib=1024
rounds=5
small_count=1000
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
build_dir=$repo_root/build-bench
build=1
out_base=""

usage() { sed -n '2,28s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() {
  echo "run.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --size-mib) size_mib=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --small-files) small_count=$2; shift 2 ;;
    --out-dir) out_base=$(realpath -m "$2"); shift 2 ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for number in "$size_mib" "$rounds" "$small_count"; do
  [[ $number =~ ^[1-9][0-9]*$ ]] || die "sizes and counts must be positive integers"
done
command -v nginx >/dev/null || die "nginx not found (scripts/install-deps.sh --bench)"
command -v curl >/dev/null || die "curl not found (scripts/install-deps.sh --bench)"
command -v taskset >/dev/null || die "taskset not found (util-linux)"

server_bin=$build_dir/apps/fileserver/reactor-fileserver
client_bin=$build_dir/apps/fileclient/reactor-fileclient
get_many_bin=$build_dir/bench/file/rftp-get-many

# --- build -------------------------------------------------------------------
if ((build)); then
  if [[ ! -f $build_dir/build.ninja ]]; then
    meson setup "$build_dir" "$repo_root" --wrap-mode=nodownload \
      -Dbench=true -Dbuildtype=release -Dtests=false -Dexamples=false >/dev/null
  fi
  ninja -C "$build_dir" -j2 apps/fileserver/reactor-fileserver \
    apps/fileclient/reactor-fileclient bench/file/rftp-get-many >/dev/null
fi
for binary in "$server_bin" "$client_bin" "$get_many_bin"; do
  [[ -x $binary ]] || die "missing $binary (drop --no-build, or build with -Dbench=true)"
done

# --- fixtures ----------------------------------------------------------------
work=$(mktemp -d /tmp/rftp-bench-XXXXXX)
if [[ -z $out_base ]] && [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]]; then
  out_base=/dev/shm
fi
out=$(mktemp -d "${out_base:-$work}/rftp-bench-out-XXXXXX")
server_pid=""
nginx_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$work" "$out"
}
trap cleanup EXIT

served=$work/served
mkdir -p "$served/small" "$work/local-small" "$work/nginx"
echo "preparing a ${size_mib} MiB file and ${small_count} x 4 KiB files in $work ..." >&2
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$served/big.bin"
small_names=()
for ((i = 1; i <= small_count; i++)); do
  head -c 4096 /dev/urandom >"$work/local-small/f$i.bin"
  small_names+=("f$i.bin")
done
cp "$work/local-small/"*.bin "$served/small/"
cat "$served/big.bin" >/dev/null  # both servers read from the page cache

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

taskset -c "$server_cpu" "$server_bin" 0 "$served" --bind 127.0.0.1 --threads 1 --log-level info \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/server.log" && break
  sleep 0.05
done
rftp_port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
[[ -n $rftp_port ]] || die "reactor-fileserver did not start: $(cat "$work/server.log")"

nginx_port=$(free_port)
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port;
    root $served;
  }
}
CONF
taskset -c "$server_cpu" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" \
  2>"$work/nginx/stderr.log" &
nginx_pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/small/f1.bin" && break
  sleep 0.05
done
curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/small/f1.bin" || die "nginx did not start"

now_ns() { date +%s%N; }
# Runs a command on the client CPU; prints elapsed seconds.
timed() {
  local start end
  start=$(now_ns)
  taskset -c "$client_cpu" "$@" >/dev/null
  end=$(now_ns)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", (e - s) / 1e9 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- part 1: the large file --------------------------------------------------
rftp_rates=()
curl_rates=()
expected=$(stat -c %s "$served/big.bin")
run_rftp_get() {
  rm -f "$out/big.bin"*
  local seconds
  seconds=$(timed "$client_bin" --no-progress "127.0.0.1:$rftp_port" get big.bin "$out/big.bin")
  [[ $(stat -c %s "$out/big.bin") == "$expected" ]] || die "rftp get: wrong size"
  rftp_rates+=("$(awk -v m="$size_mib" -v s="$seconds" 'BEGIN { printf "%.1f", m / s }')")
}
run_curl_get() {
  rm -f "$out/big.bin"
  local seconds
  seconds=$(timed curl -sf -o "$out/big.bin" "http://127.0.0.1:$nginx_port/big.bin")
  [[ $(stat -c %s "$out/big.bin") == "$expected" ]] || die "curl: wrong size"
  curl_rates+=("$(awk -v m="$size_mib" -v s="$seconds" 'BEGIN { printf "%.1f", m / s }')")
}
echo "large file: $rounds rounds, alternating which goes first ..." >&2
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then run_rftp_get; run_curl_get; else run_curl_get; run_rftp_get; fi
  if ((round == 1)); then
    cmp -s "$served/big.bin" "$out/big.bin" || die "downloaded file differs"
  fi
done
rm -f "$out/big.bin"*
rftp_median=$(printf '%s\n' "${rftp_rates[@]}" | median)
curl_median=$(printf '%s\n' "${curl_rates[@]}" | median)
ratio=$(awk -v a="$rftp_median" -v b="$curl_median" 'BEGIN { printf "%.2f", a / b }')

# --- part 2: small files -----------------------------------------------------
put_rates=()
get_rates=()
curl_small_rates=()
remotes=()
for name in "${small_names[@]}"; do remotes+=("small/$name"); done
echo "small files: $rounds rounds ..." >&2
for ((round = 1; round <= rounds; round++)); do
  seconds=$(timed "$client_bin" --no-progress "127.0.0.1:$rftp_port" put \
    "${small_names[@]/#/$work/local-small/}" --to "uploaded-$round")
  put_rates+=("$(awk -v n="$small_count" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')")
  rm -rf "$out/small" && mkdir -p "$out/small"
  seconds=$(timed "$get_many_bin" "127.0.0.1:$rftp_port" "$out/small" "${remotes[@]}")
  get_rates+=("$(awk -v n="$small_count" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')")
  rm -rf "$out/small" && mkdir -p "$out/small"
  seconds=$(timed curl -sf "http://127.0.0.1:$nginx_port/small/f[1-$small_count].bin" \
    -o "$out/small/f#1.bin")
  curl_small_rates+=("$(awk -v n="$small_count" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')")
done
[[ $(ls "$out/small" | wc -l) == "$small_count" ]] || die "curl fetched too few files"
put_median=$(printf '%s\n' "${put_rates[@]}" | median)
get_median=$(printf '%s\n' "${get_rates[@]}" | median)
curl_small_median=$(printf '%s\n' "${curl_small_rates[@]}" | median)

# --- report ------------------------------------------------------------------
mkdir -p "$repo_root/bench/results"
report=$repo_root/bench/results/file-$(date +%Y%m%d-%H%M%S).txt
{
  echo "RFTP benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, server on CPU $server_cpu, client on CPU $client_cpu"
  echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $(curl --version | head -1 | cut -d' ' -f1-2)"
  echo
  echo "large file (${size_mib} MiB, page cache -> $(stat -f -c %T "$out"), loopback), MiB/s per run:"
  echo "  reactor-fileclient get : ${rftp_rates[*]}"
  echo "  curl <- nginx          : ${curl_rates[*]}"
  echo "  median: rftp $rftp_median MiB/s, nginx+curl $curl_median MiB/s, ratio ${ratio}x"
  echo
  echo "$small_count x 4 KiB files, files/s per run:"
  echo "  rftp put (pipelined, fsync per file) : ${put_rates[*]}  (median $put_median)"
  echo "  rftp get (pipelined GETs)            : ${get_rates[*]}  (median $get_median)"
  echo "  curl <- nginx (one keep-alive conn)  : ${curl_small_rates[*]}  (median $curl_small_median)"
} | tee "$report"
echo "saved in $report" >&2
