#!/usr/bin/env bash
# The library as a consumer meets it: `meson install` this build into a
# staging directory (DESTDIR), then build programs out of tree against the
# staged files only -- with `c++ $(pkg-config --cflags --libs reactor)` as a
# Makefile would, statically as well as shared, and with a Meson project
# that says dependency('reactor') -- and run each one against a real client.
#
# usage: consumer_test.sh BUILD_ROOT SOURCE_ROOT CXX MESON SANITIZE
#   SANITIZE is the build's b_sanitize value ("none" or e.g.
#   "address,undefined"): an instrumented library needs an instrumented
#   program around it.
set -uo pipefail

build_root=$1
source_root=$2
cxx=$3
meson=$4
sanitize=$5

# meson test points LD_LIBRARY_PATH at the build tree's libraries; a real
# consumer has no such thing, and the programs below must load the
# installed ones.
unset LD_LIBRARY_PATH

work=$(mktemp -d "${TMPDIR:-/tmp}/reactor-consumer-test.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "--- $*"; }

sanitize_flags=()
meson_sanitize=()
if [[ $sanitize != none && -n $sanitize ]]; then
  sanitize_flags=("-fsanitize=$sanitize")
  meson_sanitize=("-Db_sanitize=$sanitize" -Db_lundef=false)
fi

# --- 1. install ---------------------------------------------------------------
step "meson install into DESTDIR $work/destdir"
dest=$work/destdir
if ! "$meson" install -C "$build_root" --no-rebuild --destdir "$dest" >"$work/install.log" 2>&1; then
  tail -n 30 "$work/install.log" >&2
  fail "meson install failed (it installs every target: build them all first with ninja -C $build_root)"
fi

pc_file=$(find "$dest" -name reactor.pc -print -quit)
[[ -n $pc_file ]] || fail "no reactor.pc was installed"
pc_dir=$(dirname "$pc_file")
include_dir=$(find "$dest" -type d -path '*/include/reactor' -print -quit)
[[ -n $include_dir ]] || fail "no include/reactor directory was installed"
include_dir=$(dirname "$include_dir")
for header in event_loop.h tcp_server.h tcp_client.h connection.h buffer.h; do
  [[ -f $include_dir/reactor/$header ]] || fail "include/reactor/$header was not installed"
done
[[ -f $include_dir/protocols/echo/echo_server.h ]] ||
  fail "include/protocols/echo/echo_server.h was not installed"

# --- 2. what the installed files promise --------------------------------------
step "installed programs find the installed libraries without ldconfig (RUNPATH)"
installed_lib=$(find "$dest" -name 'libreactor.so.0' -print -quit)
[[ -n $installed_lib ]] || fail "no libreactor.so.0 was installed"
installed_lib_dir=${installed_lib%/*}
installed_lib_dir=${installed_lib_dir#"$dest"}  # where it lands without DESTDIR
programs=0
while IFS= read -r program; do
  programs=$((programs + 1))
  runpath=$(readelf -d "$program" | sed -nE 's/.*\((RUNPATH|RPATH)\).*\[(.*)\]/\2/p')
  [[ ":$runpath:" == *":$installed_lib_dir:"* ]] ||
    fail "${program#"$dest"} has RUNPATH '$runpath', not the installed $installed_lib_dir: it would need ldconfig"
done < <(find "$dest" -path '*/bin/reactor-*' -type f)
# The tests are built only with the apps (-Dapps=true), so all four are here.
((programs == 4)) || fail "expected the 4 programs under bin/, found $programs"

step "a library-only configuration (-Dapps=false) defines no program and no test"
if ! "$meson" setup "$work/library_only" "$source_root" --wrap-mode=nodownload -Dapps=false \
  >"$work/library_only.log" 2>&1; then
  tail -n 30 "$work/library_only.log" >&2
  fail "meson setup -Dapps=false failed"
fi
targets=$("$meson" introspect "$work/library_only" --targets | python3 -c '
import json, sys
for target in json.load(sys.stdin):
    print(target["type"], target["name"])') || fail "meson introspect failed"
grep -q '^shared library reactor$' <<<"$targets" || fail "-Dapps=false lost libreactor: $targets"
if grep -E '^executable (reactor-|.*_test$|core_)' <<<"$targets"; then
  fail "-Dapps=false still builds the programs or the tests above"
fi

step "installed headers and .pc files keep spdlog/fmt private"
leaks=$(grep -rlE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](spdlog|fmt)/' "$include_dir")
[[ -z $leaks ]] || fail "public headers include spdlog/fmt (consumers would need them): $leaks"
for pc in "$pc_dir"/*.pc; do
  if grep -E '^(Requires|Libs|Cflags):' "$pc" | grep -qE 'spdlog|fmt'; then
    fail "$(basename "$pc") exposes spdlog/fmt outside Requires.private/Libs.private:
$(cat "$pc")"
  fi
done

# pkg-config as a consumer runs it, pointed at the staged tree: the .pc says
# prefix=/usr/local (or wherever), and the sysroot maps that into DESTDIR.
export PKG_CONFIG_PATH=$pc_dir
export PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags reactor) || fail "pkg-config --cflags reactor failed"
libs=$(pkg-config --libs reactor) || fail "pkg-config --libs reactor failed"
static_libs=$(pkg-config --static --libs reactor) || fail "pkg-config --static --libs reactor failed"
echo_cflags=$(pkg-config --cflags reactor-echo) || fail "pkg-config --cflags reactor-echo failed"
echo_libs=$(pkg-config --libs reactor-echo) || fail "pkg-config --libs reactor-echo failed"
echo "pkg-config --cflags --libs reactor: $cflags $libs"
[[ $cflags == *"-I$include_dir"* ]] || fail "reactor.pc's Cflags ($cflags) do not point at $include_dir"
for flags in "$cflags" "$libs" "$echo_cflags" "$echo_libs"; do
  [[ $flags != *"$source_root"* && $flags != *"$build_root"* ]] ||
    fail "pkg-config flags point into the source or build tree: $flags"
done
lib_dir=$(pkg-config --libs-only-L reactor)
lib_dir=${lib_dir#-L}
lib_dir=${lib_dir%% *}
[[ -f $lib_dir/libreactor.a ]] || fail "libreactor.a (static) was not installed in $lib_dir"
ls "$lib_dir"/libreactor.so* >/dev/null 2>&1 || fail "libreactor.so was not installed in $lib_dir"

compile() {  # compile SOURCE OBJECT FLAGS...
  local source=$1 object=$2
  shift 2
  # -MD writes the list of headers actually used, to check where they came from.
  "$cxx" -std=c++20 -Wall -Wextra -Werror "${sanitize_flags[@]}" "$@" -MD -MF "$object.d" \
    -c "$source" -o "$object" || fail "compiling $source out of tree failed"
  local used
  used=$(tr -s ' \134' '\n' <"$object.d" | grep -E '/(reactor|protocols)/[^/]+\.h$')
  [[ -n $used ]] || fail "$source: no reactor header in its dependency list?"
  local header
  for header in $used; do
    header=$(realpath "$header")
    [[ $header == "$dest"/* ]] || fail "$source used $header, which is not an installed file"
  done
}

# Every installed header must compile, warning-free, from the installed tree
# alone: a public header that includes one that was not installed breaks
# every consumer that includes it.
(cd "$include_dir" && find reactor protocols -name '*.h' | sort) |
  sed 's/.*/#include "&"/' >"$work/all_headers.cc"
step "every installed header compiles against the installed tree"
# shellcheck disable=SC2086  # pkg-config output is a list of words
compile "$work/all_headers.cc" "$work/all_headers.o" $cflags

# --- 3. build out of tree -------------------------------------------------------
consumer=$work/consumer
mkdir -p "$consumer"
cp "$source_root/examples/echo_server.cc" "$source_root/tests/install/echo_module_consumer.cc" \
  "$consumer/"
cd "$consumer" || fail "cannot enter $consumer"

step "c++ \$(pkg-config --cflags --libs reactor) echo_server.cc"
# shellcheck disable=SC2086  # pkg-config output is a list of words
compile echo_server.cc echo_server.o $cflags
# shellcheck disable=SC2086
"$cxx" "${sanitize_flags[@]}" echo_server.o $libs -Wl,-rpath,"$lib_dir" -o echo_server_shared ||
  fail "linking echo_server against the installed libreactor.so failed"
# The static archive: what `pkg-config --static` asks for, with libreactor
# itself named by path so the linker cannot prefer the .so next to it.
static_libs=" $static_libs "
# shellcheck disable=SC2086
"$cxx" "${sanitize_flags[@]}" echo_server.o ${static_libs// -lreactor / $lib_dir/libreactor.a } \
  -o echo_server_static || fail "linking echo_server against the installed libreactor.a failed"

step "c++ \$(pkg-config --cflags --libs reactor-echo) echo_module_consumer.cc"
# shellcheck disable=SC2086
compile echo_module_consumer.cc echo_module_consumer.o $echo_cflags
# shellcheck disable=SC2086
"$cxx" "${sanitize_flags[@]}" echo_module_consumer.o $echo_libs \
  -Wl,-rpath,"$lib_dir" -o echo_module_consumer ||
  fail "linking against the installed libreactor_echo failed"

library_of() {  # library_of PROGRAM NAME -> the path the dynamic linker picks
  ldd "$1" | awk -v name="$2" '$1 ~ "^"name"\\.so" { print $3 }'
}
[[ $(library_of echo_server_shared libreactor) == "$lib_dir"/* ]] ||
  fail "echo_server_shared does not load the installed libreactor.so: $(ldd echo_server_shared)"
[[ -z $(library_of echo_server_static libreactor) ]] ||
  fail "echo_server_static still needs libreactor.so: $(ldd echo_server_static)"

step "meson project with dependency('reactor')"
mkdir -p "$work/meson_consumer"
cp "$source_root/tests/install/meson_consumer/meson.build" "$source_root/examples/echo_server.cc" \
  "$work/meson_consumer/"
if ! "$meson" setup "$work/meson_consumer/build" "$work/meson_consumer" --wrap-mode=nodownload \
  "${meson_sanitize[@]}" >"$work/meson_consumer.log" 2>&1 ||
  ! ninja -C "$work/meson_consumer/build" >>"$work/meson_consumer.log" 2>&1; then
  tail -n 30 "$work/meson_consumer.log" >&2
  fail "a Meson project with dependency('reactor') did not build against the installed files"
fi
[[ $(library_of "$work/meson_consumer/build/echo_server" libreactor) == "$lib_dir"/* ]] ||
  fail "the Meson consumer does not load the installed libreactor.so"

# --- 4. run them ----------------------------------------------------------------
run_against_client() {  # run_against_client NAME PROGRAM [ARGS...]
  local name=$1
  shift
  local output=$work/$name.out
  "$@" >"$output" 2>&1 &
  server_pid=$!
  local port=
  for ((i = 0; i < 100; i++)); do
    port=$(sed -nE 's/.*listening on .*:([0-9]+)$/\1/p' "$output" | head -n 1)
    [[ -n $port ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || fail "$name did not print 'listening on ADDR:PORT'; output: $(cat "$output")"

  local line="hello from an out-of-tree consumer"
  local reply=
  # bash's /dev/tcp: a plain blocking TCP client, no extra tool needed.
  if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
    printf '%s\n' "$line" >&3
    IFS= read -r -t 5 reply <&3
    exec 3<&-
  else
    fail "$name: cannot connect to 127.0.0.1:$port"
  fi
  [[ $reply == "$line" ]] || fail "$name did not echo: sent '$line', got '$reply'"

  kill -TERM "$server_pid"
  local status=
  for ((i = 0; i < 50; i++)); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      wait "$server_pid"
      status=$?
      break
    fi
    sleep 0.1
  done
  [[ -n $status ]] || fail "$name did not exit within 5 s of SIGTERM"
  server_pid=
  [[ $status == 0 ]] || fail "$name exited with status $status after SIGTERM; output: $(cat "$output")"
  echo "$name: echoed on port $port, exited 0"
}

step "run each program against a real client"
run_against_client echo_server_shared ./echo_server_shared 0
run_against_client echo_server_static ./echo_server_static 0
run_against_client echo_module_consumer ./echo_module_consumer
run_against_client meson_consumer "$work/meson_consumer/build/echo_server" 0

echo "PASS: installed library, headers and pkg-config files work out of tree"
