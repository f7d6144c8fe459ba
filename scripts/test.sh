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
# Prints the counts that the reliability tests report, which ctest shows only for failures.
print_counts() {
  grep -h -E "^(crash test:|hostile input:|verify beside |a second folder |misuse cases checked:)" \
    "$1/Testing/Temporary/LastTest.log" 2>/dev/null || true
}

echo "== tests (release build)"
(cd build && ctest --output-on-failure --parallel 2 "$@")
print_counts build
$quick && exit 0

echo "== tests under AddressSanitizer and UndefinedBehaviorSanitizer"
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize --parallel 2
ctest --preset sanitize --parallel 2 "$@"
print_counts build-sanitize

echo "== libFuzzer runs"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --parallel 2
ctest --preset fuzz "$@"
