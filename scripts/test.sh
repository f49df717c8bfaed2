#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the doctest suites (unit + integration against the real apps) in a
#      release-style build,
#   2. the same suites under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the core, HTTP and RFTP suites under ThreadSanitizer (the servers
#      run one loop per thread: --threads),
#   4. the libFuzzer targets (clang), each for a bounded time.
# The last line is "N passed, N failed" (", N skipped" when something was
# skipped), counted from the runs by scripts/count_results.py; a build that
# fails counts as a failure there. The exit status is non-zero if anything
# failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || { echo "dependency installation failed" >&2; exit 1; }

# Enough descriptors for the 1,000-client tests.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

jobs=$(nproc)
common=(--wrap-mode=nodownload -Dwerror=true)
configure() {  # configure DIR [meson options...]
  local dir=$1; shift
  if [[ -f "$dir/build.ninja" ]]; then
    meson setup --reconfigure "$dir" "${common[@]}" "$@" >/dev/null
  else
    meson setup "$dir" "${common[@]}" "$@" >/dev/null
  fi
}

build() {  # build DIR: everything, or with TEST_SUITES only what those suites run
  local targets=()
  if [[ -n "${TEST_SUITES:-}" ]]; then
    local listed
    listed=$(python3 scripts/suite_targets.py "$1" ${TEST_SUITES}) || return 1
    mapfile -t targets <<<"$listed"
  fi
  ninja -C "$1" -j "$jobs" "${targets[@]}"
}

status=0
timings=()  # "DIR: build Ns, tests Ns", printed before the totals
build_and_test() {  # build_and_test DIR [meson options...]
  local dir=$1; shift
  # A failed build must never be reported with the results of an earlier
  # run: without a log, count_results.py counts the build as failed.
  rm -f "$dir/meson-logs/testlog.json"
  echo "=== $dir: configure and build" >&2
  local started=$SECONDS
  if ! configure "$dir" "$@" || ! build "$dir" >"$dir.build.log" 2>&1; then
    tail -n 60 "$dir.build.log" >&2 2>/dev/null
    echo "=== $dir: BUILD FAILED" >&2
    status=1
    timings+=("$dir: build failed after $((SECONDS - started)) s")
    return
  fi
  local built=$SECONDS
  echo "=== $dir: test" >&2
  # One test program at a time: the integration tests load the machine
  # (1,000 clients, 200 MiB transfers) and must not starve each other.
  local suites=()
  for suite in ${TEST_SUITES:-}; do suites+=(--suite "$suite"); done
  meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 1 "${suites[@]}" \
    --timeout-multiplier "${TIMEOUT_MULTIPLIER:-1}" >&2 || status=1
  timings+=("$dir: build $((built - started)) s, tests $((SECONDS - built)) s")
}

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"

build_and_test build -Dbuildtype=debugoptimized
# In-test time limits stretch by REACTOR_TEST_TIME_SCALE
# (tests/support/time_scale.h): the sanitizer build runs several times slower.
REACTOR_TEST_TIME_SCALE=3 TIMEOUT_MULTIPLIER=3 build_and_test build-asan -Dbuildtype=debug -Db_sanitize=address,undefined \
  -Db_lundef=false
# ThreadSanitizer: the programs in suite "threads" (meson.build files): the
# core's, and the servers' tests where several loops and worker threads
# share state (the access log, the connection limit, the upload registry,
# the drain). The single-loop tests of the protocols add build and run time
# (about ten minutes on CI) but no thread to race. Only what they need is
# built. A race report fails the program that printed it (the runtime's
# exit status 66, and ChildProcess scans the apps' output).
tsan_suites="threads"
TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1" REACTOR_TEST_TIME_SCALE=4 TIMEOUT_MULTIPLIER=4 \
  TEST_SUITES="$tsan_suites" build_and_test build-tsan -Dbuildtype=debugoptimized \
  -Db_sanitize=thread -Db_lundef=false -Dexamples=false
# Only the fuzz targets and what they link (the codecs), not the servers.
CC=clang CXX=clang++ TEST_SUITES=fuzz build_and_test build-fuzz -Dbuildtype=debugoptimized -Dfuzz=true \
  -Db_sanitize=address,undefined -Db_lundef=false -Dexamples=false

printf '%s\n' "${timings[@]}"
python3 scripts/count_results.py build build-asan "build-tsan=${tsan_suites// /,}" build-fuzz ||
  status=1
exit $status
