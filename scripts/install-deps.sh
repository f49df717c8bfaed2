#!/usr/bin/env bash
# Installs the Debian packages the build and the test suite need, skipping
# the ones already present. Run as root (CI does); safe to run repeatedly.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --bench  also the benchmark peers
set -euo pipefail

packages=(
  # build
  meson ninja-build g++ pkgconf libspdlog-dev libfmt-dev doctest-dev libcli11-dev libssl-dev
  nlohmann-json3-dev
  # sanitizers and libFuzzer
  clang libclang-rt-14-dev
  # real clients the tests drive
  curl wget socat netcat-openbsd chromium procps iproute2 python3
  # the client's durability test watches its fsync/rename order
  strace
  # precompressed siblings (.br, .gz) for the httpd tests
  brotli gzip
  # /etc/mime.types, which reactor-httpd reads and mime_types_test requires
  media-types
  clang-format
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(libevent-dev libasio-dev wrk nginx-light lighttpd h2o util-linux hyperfine gnuplot-nox)
fi

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
