#!/usr/bin/env bash
# Builds everything and runs the whole test suite with CTest.
# Usage: scripts/test.sh [ctest arguments], for example scripts/test.sh -L cli
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure --parallel 2 "$@"
