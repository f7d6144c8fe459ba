#!/usr/bin/env bash
# Concurrency test: a verify running beside apply and revert never sees a half state, and the
# folder lock of one model folder does not hold up work on another.
# Usage: concurrency_test.sh TOOL FIXTURES_DIR
set -u

TOOL=$1
FIXTURES=$2
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
export HF_MODULES_CACHE="$WORK/hf-modules"

fail() {
  echo "FAIL [concurrency]: $*" >&2
  exit 1
}

cp -r "$FIXTURES/sample/MiniCPM-o-4_5" "$FIXTURES/sample/MiniCPM-o-4_5-awq" "$WORK/"
AWQ="$WORK/MiniCPM-o-4_5-awq"
BF16="$WORK/MiniCPM-o-4_5"

# 1. verify beside apply/revert cycles: each report is all pending or all applied.
(
  for _ in $(seq 30); do
    "$TOOL" apply --quiet --only chat-stream-single-beam --only chat-stream-return \
      --only awq-modules-not-converted "$AWQ" || exit 1
    "$TOOL" revert --quiet "$AWQ" || exit 1
  done
) &
writer=$!
reports=0
mixed=0
while kill -0 "$writer" 2>/dev/null; do
  states=$("$TOOL" verify --only chat-stream-single-beam --only chat-stream-return \
    --only awq-modules-not-converted "$AWQ" | awk 'NR > 2 { print $3 }' | sort -u | tr '\n' ' ')
  reports=$((reports + 1))
  case "$states" in
    "applied " | "pending ") ;;
    *) mixed=$((mixed + 1)); echo "half state seen: $states" >&2 ;;
  esac
done
wait "$writer" || fail "an apply or revert beside verify failed"
[ "$mixed" -eq 0 ] || fail "$mixed of $reports verify reports saw a half state"
echo "verify beside apply/revert: $reports reports, none in a half state"

# 2. Another process holds the lock of one folder; a second folder is patched meanwhile.
flock "$AWQ" sleep 5 &
holder=$!
sleep 0.2
start=$(date +%s%N)
"$TOOL" apply --quiet "$BF16" || fail "apply on the second folder failed"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed_ms" -lt 4000 ] || fail "apply on another folder waited ${elapsed_ms} ms for an unrelated lock"
kill -0 "$holder" 2>/dev/null || fail "the lock holder ended too early to prove anything"
wait "$holder"
echo "a second folder was patched in ${elapsed_ms} ms while the first was locked"
