#!/usr/bin/env bash
# Installs the Debian packages the build and the test suite need, skipping
# the ones already present. Run as root (CI does); safe to run repeatedly.
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh --server  only what building and running the
#                                     servers needs (scripts/run.sh)
#   scripts/install-deps.sh --bench   build + test + the benchmark peers
set -euo pipefail

# Building the library and the apps, and what the apps read at run time.
server_packages=(
  meson ninja-build g++ pkgconf libspdlog-dev libfmt-dev libcli11-dev libssl-dev
  nlohmann-json3-dev
  # /etc/mime.types, which reactor-httpd reads (and mime_types_test requires)
  media-types
)
# The test suites, the sanitizer and fuzzer builds, and the real clients
# the tests drive.
test_packages=(
  doctest-dev
  clang libclang-rt-14-dev
  curl wget socat netcat-openbsd chromium procps iproute2 python3
  # the client's durability test watches its fsync/rename order
  strace
  # precompressed siblings (.br, .gz) for the httpd tests
  brotli gzip
  # zlib: the browser test decodes chromium's PNG screenshots
  zlib1g-dev
  clang-format
)
packages=("${server_packages[@]}")
case "${1:-}" in
  --server) ;;
  --bench)
    packages+=("${test_packages[@]}")
    packages+=(libevent-dev libasio-dev wrk nginx-light lighttpd h2o util-linux hyperfine gnuplot-nox)
    ;;
  "") packages+=("${test_packages[@]}") ;;
  *)
    echo "usage: $0 [--server|--bench]" >&2
    exit 2
    ;;
esac

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
