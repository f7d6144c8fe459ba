#!/usr/bin/env bash
# Installs the Debian packages that the build needs (when run as root and they are missing),
# then configures and builds minicpm-patch in build/.
# Usage: scripts/setup.sh [extra cmake arguments]
set -euo pipefail

cd "$(dirname "$0")/.."

# clang and libclang-rt-dev serve the fuzz build; hyperfine, rsync, time and strace the
# benchmark; the rest every build.
packages=(cmake ninja-build g++ nlohmann-json3-dev libcli11-dev catch2 libssl-dev python3
  clang libclang-rt-dev hyperfine rsync time strace)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: error: missing Debian packages: ${missing[*]}; install them with:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build --parallel 2
