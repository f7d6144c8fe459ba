#!/usr/bin/env bash
# Builds everything and runs the whole test suite with CTest: the release build, then the
# same suite under AddressSanitizer and UndefinedBehaviorSanitizer, then 30 seconds of
# libFuzzer for each fuzz target.
# Usage: scripts/test.sh [--quick] [ctest arguments]
#   --quick   run only the release build's tests
# Example: scripts/test.sh --quick -L cli
set -euo pipefail

cd "$(dirname "$0")/.."
quick=false
if [ "${1:-}" = --quick ]; then
  quick=true
  shift
fi

scripts/setup.sh
echo "== tests (release build)"
(cd build && ctest --output-on-failure --parallel 2 "$@")
$quick && exit 0

echo "== tests under AddressSanitizer and UndefinedBehaviorSanitizer"
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize --parallel 2
ctest --preset sanitize --parallel 2 "$@"

echo "== libFuzzer runs"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --parallel 2
ctest --preset fuzz "$@"
