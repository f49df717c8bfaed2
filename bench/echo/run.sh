#!/usr/bin/env bash
# The echo "pingpong" benchmark: reactor-echod against the echo servers people
# would write with libevent 2 (bufferevents; plain events) and standalone Asio.
#
#   bash bench/echo/run.sh [--seconds T] [--warmup W] [--rounds N] [--threads LIST]
#                          [--client-threads N] [--servers LIST] [--cases LIST]
#                          [--build-dir DIR] [--no-build]
#
#   --seconds T     measured seconds per run (default 5; env BENCH_SECONDS)
#   --warmup W      unmeasured seconds before each run (default 1; env BENCH_WARMUP)
#   --rounds N      runs per server and case; the median is reported (default 3)
#   --threads LIST  comma-separated server thread counts (default 1,2); every
#                   server runs N event loops, one per thread (--threads N)
#   --client-threads N  pingpong threads when the server has more than one
#                   (default: as many as the server has; at 1 it is always 1)
#   --servers LIST  comma-separated subset of: reactor-echod, echo-libevent-event,
#                   echo-libevent-bufferevent, echo-asio (default: all four)
#   --cases LIST    comma-separated CONNECTIONS:SIZE pairs
#                   (default 1:16384,100:16384,1000:4096)
#   --build-dir DIR build directory (default build-bench at the repository root)
#   --no-build      use the binaries already in the build directory
#
# Env BENCH_MESON_OPTIONS adds options to the build (e.g. -Dwerror=false).
#
# At 1 thread every server is pinned to CPU 0 and the client to CPU 1 (env
# SERVER_CPU, CLIENT_CPU). At more threads nothing is pinned: server and
# client threads share all CPUs, so on a 2-CPU machine the load generator
# competes with a 2-thread server for the same cores. The servers take turns
# within each round, and each round starts one server further along, so slow
# drift of the machine hits all alike.
# Exits non-zero when a run failed (client error, server died or did not start).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
measure_seconds=${BENCH_SECONDS:-5}
warmup_seconds=${BENCH_WARMUP:-1}
rounds=${BENCH_ROUNDS:-3}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
build_dir=$repo_root/build-bench
build=1
servers=(reactor-echod echo-libevent-event echo-libevent-bufferevent echo-asio)
cases=(1:16384 100:16384 1000:4096)
thread_counts=(1 2)
client_threads=""

usage() { sed -n '2,32s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() {
  echo "run.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --seconds) measure_seconds=$2; shift 2 ;;
    --warmup) warmup_seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) IFS=, read -r -a thread_counts <<<"$2"; shift 2 ;;
    --client-threads) client_threads=$2; shift 2 ;;
    --servers) IFS=, read -r -a servers <<<"$2"; shift 2 ;;
    --cases) IFS=, read -r -a cases <<<"$2"; shift 2 ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
for threads in "${thread_counts[@]}"; do
  [[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads takes positive integers, got '$threads'"
done
[[ -z $client_threads || $client_threads =~ ^[1-9][0-9]*$ ]] ||
  die "--client-threads must be a positive integer"
for server in "${servers[@]}"; do
  case $server in
    reactor-echod | echo-libevent-event | echo-libevent-bufferevent | echo-asio) ;;
    *) die "unknown server '$server'" ;;
  esac
done

binary_of() {
  case $1 in
    reactor-echod) echo "$build_dir/apps/echod/reactor-echod" ;;
    *) echo "$build_dir/bench/echo/$1" ;;
  esac
}
pingpong=$build_dir/bench/echo/pingpong

# --- build -------------------------------------------------------------------
if ((build)); then
  read -r -a extra_meson_options <<<"${BENCH_MESON_OPTIONS:-}"
  if [[ ! -f $build_dir/build.ninja ]]; then
    # Tests and examples are not needed here; leaving them out saves most of
    # the build time on a two-core machine.
    meson setup "$build_dir" "$repo_root" --wrap-mode=nodownload \
      -Dbench=true -Dbuildtype=release -Dtests=false -Dexamples=false \
      "${extra_meson_options[@]}" >/dev/null
  else
    meson configure "$build_dir" -Dbench=true -Dbuildtype=release \
      "${extra_meson_options[@]}" >/dev/null
  fi
  ninja -C "$build_dir" -j2 bench/echo/pingpong bench/echo/echo-libevent-event \
    bench/echo/echo-libevent-bufferevent bench/echo/echo-asio >/dev/null ||
    die "building the benchmark client and peers failed (ninja -C $build_dir bench/echo/pingpong)"
  if [[ " ${servers[*]} " == *" reactor-echod "* ]]; then
    ninja -C "$build_dir" -j2 apps/echod/reactor-echod >/dev/null ||
      echo "run.sh: warning: building reactor-echod failed; it is left out of this run" >&2
  fi
fi

present=()
for server in "${servers[@]}"; do
  if [[ -x $(binary_of "$server") ]]; then
    present+=("$server")
  else
    echo "run.sh: warning: $(binary_of "$server") not found; $server is left out" >&2
  fi
done
servers=("${present[@]}")
((${#servers[@]} > 0)) || die "no server to measure"
[[ -x $pingpong ]] || die "$pingpong not found (run without --no-build)"

# --- environment ---------------------------------------------------------------
max_connections=0
for case_spec in "${cases[@]}"; do
  [[ $case_spec =~ ^([0-9]+):([0-9]+)$ ]] || die "bad case '$case_spec' (want CONNECTIONS:SIZE)"
  ((BASH_REMATCH[1] > max_connections)) && max_connections=${BASH_REMATCH[1]}
done
# Servers and client inherit the limit: C=1000 needs more than the usual 1024.
hard_limit=$(ulimit -Hn)
wanted_limit=65536
if [[ $hard_limit != unlimited ]] && ((hard_limit < wanted_limit)); then wanted_limit=$hard_limit; fi
ulimit -n "$wanted_limit" || true
(($(ulimit -n) > max_connections + 64)) ||
  die "descriptor limit $(ulimit -n) is too low for $max_connections connections"

cpu_count=$(nproc --all)
if ((cpu_count < 2)); then
  echo "run.sh: warning: one CPU only; server and client share it" >&2
  server_cpu=0 client_cpu=0
fi

work_dir=$(mktemp -d)
server_pid=""
server_port=""
client_pid=""
cleanup() {
  if [[ -n $client_pid ]]; then kill -KILL "$client_pid" 2>/dev/null || true; fi
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The command prefix that pins a process to CPU $1 at one server thread, and
# nothing at more: there the server's threads and the client's share the CPUs.
pin() {
  if ((server_threads == 1)); then echo "taskset -c $1"; fi
}

# Starts $1 on port $2 with $server_threads threads (pinned to the server CPU
# at 1 thread); sets server_pid and server_port (read back from its
# "listening on ADDR:PORT" line).
launch_server() {
  local name=$1 port=$2 log=$work_dir/$1.log
  # --threads always, even 1: reactor-echod's default is one loop per CPU.
  local command=("$(binary_of "$name")" "$port" --threads "$server_threads")
  [[ $name == reactor-echod ]] && command+=(--bind 127.0.0.1)
  # shellcheck disable=SC2046  # pin prints words or nothing
  $(pin "$server_cpu") "${command[@]}" >"$log" 2>&1 &
  server_pid=$!
  server_port=""
  local deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    server_port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    [[ -n $server_port ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "run.sh: $name did not start:" >&2
  sed 's/^/  | /' "$log" >&2
  stop_server "$name" || true
  return 1
}

start_server() {
  local name=$1
  launch_server "$name" 0 || return 1
  # A server that echoes back the 0 it was given has not told us its port;
  # fall back to choosing one (racy in theory, fine on a quiet machine).
  if [[ $server_port == 0 ]]; then
    stop_server "$name" || true
    launch_server "$name" "$(free_port)" || return 1
  fi
}

# Stops the server with SIGTERM (SIGKILL after 5 s); fails if it had died
# before or did not exit cleanly.
stop_server() {
  local name=$1 status=0
  [[ -n $server_pid ]] || return 0
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid" 2>/dev/null || status=$?
    echo "run.sh: $name had exited by itself (status $status)" >&2
    server_pid=""
    return 1
  fi
  kill -TERM "$server_pid" 2>/dev/null || true
  local deadline=$((SECONDS + 5))
  while kill -0 "$server_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: $name ignored SIGTERM for 5 s; killed" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
    status=1
  fi
  wait "$server_pid" 2>/dev/null || status=$?
  server_pid=""
  if ((status != 0)); then
    echo "run.sh: $name exited with status $status" >&2
    return 1
  fi
}

median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

human_size() {
  local bytes=$1
  if ((bytes % 1048576 == 0)); then
    echo "$((bytes / 1048576))MiB"
  elif ((bytes % 1024 == 0)); then
    echo "$((bytes / 1024))KiB"
  else
    echo "${bytes}B"
  fi
}

# --- runs ----------------------------------------------------------------------
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "echo pingpong: ${#servers[@]} servers x ${#cases[@]} cases x ${#thread_counts[@]} thread" \
  "counts (${thread_counts[*]}) x $rounds rounds, ${measure_seconds} s each after" \
  "${warmup_seconds} s warm-up"
echo "machine: ${cpu_model:-unknown CPU}, $cpu_count CPUs, kernel $(uname -r)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for server_threads in "${thread_counts[@]}"; do
  if ((server_threads == 1)); then
    echo "  1 server thread: server on CPU $server_cpu, client (1 thread) on CPU $client_cpu"
  else
    echo "  $server_threads server threads: nothing pinned; the client" \
      "(${client_threads:-$server_threads} threads) shares the $cpu_count CPUs with the server"
  fi
done

# Neighbours on the machine (other builds, other tenants) show up here
# before they show up as unexplained slow runs.
if awk -v cpus="$cpu_count" '{ exit !($1 > cpus / 2) }' /proc/loadavg; then
  echo "run.sh: warning: the machine is busy (load average $(cut -d' ' -f1 /proc/loadavg)" \
    "on $cpu_count CPUs); expect low, noisy numbers" >&2
fi

results_csv=$build_dir/bench-echo-results.csv
echo "threads,connections,size,server,round,mib_per_second,server_cpu_percent,client_cpu_percent" \
  >"$results_csv"
# Keys are THREADS|CONNECTIONS:SIZE|SERVER; values space-separated per run.
declare -A runs=() server_cpu_runs=() client_cpu_runs=() cpu_per_gib_runs=()
failures=0

for server_threads in "${thread_counts[@]}"; do
  # One client thread per server thread by default: one client thread does
  # about the work of one server thread per message, so fewer would cap the
  # server. At 1 server thread the client stays single-threaded and pinned.
  pingpong_threads=1
  ((server_threads > 1)) && pingpong_threads=${client_threads:-$server_threads}
  for case_spec in "${cases[@]}"; do
    connections=${case_spec%%:*}
    size=${case_spec##*:}
    for ((round = 0; round < rounds; round++)); do
      for ((i = 0; i < ${#servers[@]}; i++)); do
        server=${servers[$(((i + round) % ${#servers[@]}))]}
        result=fail server_cpu_percent=0 client_cpu_percent=0 cpu_per_gib=fail
        if start_server "$server"; then
          client_out=$work_dir/client.out
          # In the background so that a signal to this script ends the run
          # at once: bash runs traps only between foreground commands.
          # shellcheck disable=SC2046  # pin prints words or nothing
          $(pin "$client_cpu") "$pingpong" --port "$server_port" \
            --connections "$connections" --size "$size" --threads "$pingpong_threads" \
            --seconds "$measure_seconds" --warmup "$warmup_seconds" \
            --server-pid "$server_pid" >"$client_out" 2>&1 &
          client_pid=$!
          client_status=0
          wait "$client_pid" || client_status=$?
          client_pid=""
          if ((client_status == 0)); then
            result=$(sed -n 's/^throughput: \([0-9.]*\) MiB\/s$/\1/p' "$client_out")
            [[ -n $result ]] || result=fail
            server_cpu_percent=$(sed -n 's/^cpu: .*server \([0-9]*\)%.*/\1/p' "$client_out")
            client_cpu_percent=$(sed -n 's/^cpu: client \([0-9]*\)%.*/\1/p' "$client_out")
          else
            echo "run.sh: pingpong against $server (threads=$server_threads C=$connections" \
              "S=$size) failed:" >&2
            sed 's/^/  | /' "$client_out" >&2
          fi
          stop_server "$server" || result=fail
        fi
        [[ $result == fail ]] && failures=$((failures + 1))
        # Server CPU milliseconds per GiB echoed: the echo's "CPU per request".
        if [[ $result != fail && -n $server_cpu_percent ]]; then
          cpu_per_gib=$(awk -v cpu="$server_cpu_percent" -v mibps="$result" \
            'BEGIN { if (mibps > 0) printf "%.1f", cpu * 10 * 1024 / mibps; else print "fail" }')
        fi
        printf '  T=%s C=%-5s S=%-6s round %d  %-26s %8s MiB/s  cpu server %s%% client %s%%\n' \
          "$server_threads" "$connections" "$(human_size "$size")" $((round + 1)) "$server" \
          "$result" "$server_cpu_percent" "$client_cpu_percent" >&2
        key="$server_threads|$case_spec|$server"
        runs[$key]+="$result "
        server_cpu_runs[$key]+="$server_cpu_percent "
        client_cpu_runs[$key]+="$client_cpu_percent "
        cpu_per_gib_runs[$key]+="$cpu_per_gib "
        echo "$server_threads,$connections,$size,$server,$((round + 1)),$result,$server_cpu_percent,$client_cpu_percent" \
          >>"$results_csv"
      done
    done
  done
done

# --- report --------------------------------------------------------------------
median_or_fail() {
  if [[ "$*" == *fail* ]]; then echo fail; else median "$@"; fi
}

declare -A medians=() cpu_per_gib_medians=()
for server_threads in "${thread_counts[@]}"; do
  for case_spec in "${cases[@]}"; do
    for server in "${servers[@]}"; do
      key="$server_threads|$case_spec|$server"
      # shellcheck disable=SC2086  # the values are space-separated numbers
      medians[$key]=$(median_or_fail ${runs[$key]})
      # shellcheck disable=SC2086
      cpu_per_gib_medians[$key]=$(median_or_fail ${cpu_per_gib_runs[$key]})
    done
  done
done

ratio() {  # $1 over $2, or "-" when either is missing
  local ours=$1 theirs=$2
  if [[ $ours == fail || $theirs == fail || -z $ours || -z $theirs ]]; then
    echo "-"
  else
    awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
  fi
}

# The peer with the highest (best=max) or lowest (best=min) value in the
# array named $3 at threads $1, case $2; prints "NAME VALUE" or nothing.
best_peer() {
  local threads=$1 case_spec=$2 best=$4
  local -n values=$3
  local name="" value="" candidate server
  for server in "${servers[@]}"; do
    [[ $server == reactor-echod ]] && continue
    candidate=${values["$threads|$case_spec|$server"]}
    [[ $candidate == fail ]] && continue
    if [[ -z $value ]] || awk -v a="$candidate" -v b="$value" -v best="$best" \
      'BEGIN { exit !(best == "max" ? a > b : a < b) }'; then
      name=$server value=$candidate
    fi
  done
  [[ -n $name ]] && echo "$name $value"
  return 0
}

have_reactor=0
[[ " ${servers[*]} " == *" reactor-echod "* ]] && have_reactor=1

echo
echo "MiB/s: median of $rounds runs of ${measure_seconds} s; cpu: median share of one core" \
  "used by server / client while measuring (a client near 100% per thread caps the result);"
echo "srv ms/GiB: server CPU milliseconds per GiB echoed (lower is leaner)"
for server_threads in "${thread_counts[@]}"; do
  echo
  if ((server_threads == 1)); then
    echo "=== 1 server thread (server on CPU $server_cpu, client on CPU $client_cpu) ==="
  else
    echo "=== $server_threads server threads (nothing pinned: the client shares the" \
      "$cpu_count CPUs) ==="
  fi
  for case_spec in "${cases[@]}"; do
    connections=${case_spec%%:*}
    size=${case_spec##*:}
    echo
    printf 'T=%s C=%s S=%s\n' "$server_threads" "$connections" "$(human_size "$size")"
    printf '  %-26s %9s %13s %11s %12s  %s\n' server MiB/s reactor/peer "srv ms/GiB" \
      "cpu srv/cli" runs
    reactor_median=${medians["$server_threads|$case_spec|reactor-echod"]:-}
    for server in "${servers[@]}"; do
      key="$server_threads|$case_spec|$server"
      value=${medians[$key]}
      [[ $value != fail ]] && value=$(printf '%.1f' "$value")
      runs_text=$(for v in ${runs[$key]}; do
        [[ $v == fail ]] && printf 'fail ' || printf '%.0f ' "$v"
      done)
      # shellcheck disable=SC2086  # space-separated numbers
      cpu_text="$(median ${server_cpu_runs[$key]})%/$(median ${client_cpu_runs[$key]})%"
      cpu_per_gib=${cpu_per_gib_medians[$key]}
      [[ $cpu_per_gib != fail ]] && cpu_per_gib=$(printf '%.0f' "$cpu_per_gib")
      ratio_text=""
      if [[ $server != reactor-echod ]] && ((have_reactor)); then
        ratio_text=$(ratio "$reactor_median" "${medians[$key]}")
      fi
      printf '  %-26s %9s %13s %11s %12s  %s\n' "$server" "$value" "$ratio_text" \
        "$cpu_per_gib" "$cpu_text" "${runs_text% }"
    done
  done
done

if ((have_reactor)); then
  echo
  echo "reactor-echod / fastest peer (MiB/s), and / leanest peer (server CPU per GiB, lower is better):"
  for server_threads in "${thread_counts[@]}"; do
    for case_spec in "${cases[@]}"; do
      key="$server_threads|$case_spec|reactor-echod"
      read -r fastest fastest_value <<<"$(best_peer "$server_threads" "$case_spec" medians max)"
      read -r leanest leanest_value <<<"$(best_peer "$server_threads" "$case_spec" \
        cpu_per_gib_medians min)"
      [[ -n $fastest ]] || continue
      printf '  T=%s C=%-5s S=%-6s %6s (vs %s)   cpu %6s (vs %s)\n' "$server_threads" \
        "${case_spec%%:*}" "$(human_size "${case_spec##*:}")" \
        "$(ratio "${medians[$key]}" "$fastest_value")" "$fastest" \
        "$(ratio "${cpu_per_gib_medians[$key]}" "$leanest_value")" "${leanest:--}"
    done
  done
fi

if ((${#thread_counts[@]} > 1)) && [[ " ${thread_counts[*]} " == *" 1 "* ]]; then
  echo
  echo "scaling: MiB/s at N threads / MiB/s at 1 thread (1 thread pinned, N unpinned with the" \
    "client on the same CPUs)"
  for server_threads in "${thread_counts[@]}"; do
    ((server_threads == 1)) && continue
    for case_spec in "${cases[@]}"; do
      line=$(printf '  1->%s C=%-5s S=%-6s' "$server_threads" "${case_spec%%:*}" \
        "$(human_size "${case_spec##*:}")")
      for server in "${servers[@]}"; do
        line+=$(printf '  %s %s' "$server" \
          "$(ratio "${medians["$server_threads|$case_spec|$server"]}" \
            "${medians["1|$case_spec|$server"]}")")
      done
      echo "$line"
    done
  done
fi
echo
echo "raw runs: $results_csv; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"

if ((failures > 0)); then
  echo "run.sh: $failures run(s) failed" >&2
  exit 1
fi
