#!/usr/bin/env bash
# Crash-safety test: kills `minicpm-patch apply` with SIGKILL at every write step (through the
# test-only MINICPM_PATCH_TEST_KILL_AT setting) and at random moments. After each kill it
# checks that every target file is the original or the fully patched version, that no
# half-filled assets/ exists, and that the next apply completes.
# Usage: crash_test.sh TOOL FIXTURES_DIR [MIN_KILLS]
set -u

TOOL=$1
FIXTURES=$2
MIN_KILLS=${3:-200}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export HF_MODULES_CACHE="$WORK/hf-modules"

fail() {
  echo "FAIL [crash]: $*" >&2
  exit 1
}

sha() { sha256sum < "$1" | cut -c1-64; }

# The source model gets an 8 MiB file so that the copy lasts long enough to be interrupted.
SOURCE="$WORK/MiniCPM-o-4_5"
cp -r "$FIXTURES/sample/MiniCPM-o-4_5" "$SOURCE"
head -c $((8 << 20)) /dev/urandom > "$SOURCE/assets/token2wav/padding.bin"
PRISTINE="$FIXTURES/sample/MiniCPM-o-4_5-awq"

# The bytes of a fully patched folder.
cp -r "$PRISTINE" "$WORK/reference"
"$TOOL" apply --quiet --assets-from "$SOURCE" "$WORK/reference" || fail "apply on the reference failed"
ORIGINAL_MODELING=$(sha "$PRISTINE/modeling_minicpmo.py")
PATCHED_MODELING=$(sha "$WORK/reference/modeling_minicpmo.py")
ORIGINAL_CONFIG=$(sha "$PRISTINE/config.json")
PATCHED_CONFIG=$(sha "$WORK/reference/config.json")

# A fresh target: the pristine AWQ folder, and in "partial" mode an assets/ that already
# contains one matching file, one stale file and one file of the user's.
fresh_target() {
  rm -rf "$WORK/target"
  cp -r "$PRISTINE" "$WORK/target"
  if [ "$1" = partial ]; then
    mkdir -p "$WORK/target/assets/token2wav"
    cp "$SOURCE/assets/token2wav/flow.yaml" "$WORK/target/assets/token2wav/"
    echo stale > "$WORK/target/assets/token2wav/hift.pt"
    echo mine > "$WORK/target/assets/USER.txt"
  fi
}

# Checks the folder that a killed apply left, then completes it.
check_after_kill() {
  local target="$WORK/target" mode=$1 what=$2
  local modeling config
  modeling=$(sha "$target/modeling_minicpmo.py")
  config=$(sha "$target/config.json")
  [ "$modeling" = "$ORIGINAL_MODELING" ] || [ "$modeling" = "$PATCHED_MODELING" ] ||
    fail "$what: modeling_minicpmo.py is neither the original nor the patched file"
  [ "$config" = "$ORIGINAL_CONFIG" ] || [ "$config" = "$PATCHED_CONFIG" ] ||
    fail "$what: config.json is neither the original nor the patched file"

  if [ "$mode" = fresh ] && [ -e "$target/assets" ]; then
    # A new assets/ appears whole or not at all.
    (cd "$SOURCE/assets" && find . -type f) | while read -r file; do
      cmp -s "$SOURCE/assets/$file" "$target/assets/$file" || fail "$what: half-filled assets/ ($file)"
    done || exit 1
  fi
  if [ "$mode" = partial ]; then
    [ "$(cat "$target/assets/USER.txt" 2>/dev/null)" = mine ] || fail "$what: the user's file was lost"
    local file
    for file in "$target"/assets/token2wav/*; do
      local name=${file#"$target/assets/"}
      cmp -s "$file" "$SOURCE/assets/$name" && continue
      [ "$name" = token2wav/hift.pt ] && [ "$(cat "$file")" = stale ] && continue
      fail "$what: $name is neither the user's file nor a full copy"
    done
  fi

  "$TOOL" apply --quiet --assets-from "$SOURCE" "$target" || fail "$what: the apply after the kill failed"
  "$TOOL" verify --quiet --deep --assets-from "$SOURCE" "$target" || fail "$what: verify after the re-apply failed"
  [ -z "$(find "$target" -name '.minicpm-patch.tmp.*')" ] || fail "$what: temporary files were left"
  [ -z "$(ls -A "$target/.minicpm-patches/staging" 2>/dev/null)" ] || fail "$what: staged copies were left"
  [ "$(sha "$target/modeling_minicpmo.py")" = "$PATCHED_MODELING" ] || fail "$what: re-apply gave other bytes"
}

kills_at_points=0
for point in before-rename after-rename after-backup after-state between-files; do
  for mode in fresh partial; do
    hit=1
    while :; do
      fresh_target "$mode"
      MINICPM_PATCH_TEST_KILL_AT="$point#$hit" "$TOOL" apply --quiet --assets-from "$SOURCE" "$WORK/target" \
        >/dev/null 2>&1
      rc=$?
      [ "$rc" -eq 0 ] && break  # The run passed this point fewer than $hit times.
      [ "$rc" -eq 137 ] || fail "$point#$hit ($mode): exit code $rc, expected 137 or 0"
      kills_at_points=$((kills_at_points + 1))
      check_after_kill "$mode" "$point#$hit ($mode)"
      hit=$((hit + 1))
    done
  done
done

# Random moments: kill after a random delay within one apply's duration.
start=$(date +%s%N)
fresh_target fresh
"$TOOL" apply --quiet --assets-from "$SOURCE" "$WORK/target"
duration_us=$((($(date +%s%N) - start) / 1000))
[ "$duration_us" -gt 1000 ] || duration_us=1000

kills_at_random=0
attempts=0
while [ $((kills_at_points + kills_at_random)) -lt "$MIN_KILLS" ]; do
  attempts=$((attempts + 1))
  [ "$attempts" -le $((MIN_KILLS * 5)) ] || fail "only $kills_at_random random kills in $attempts attempts"
  mode=fresh
  [ $((attempts % 2)) -eq 0 ] && mode=partial
  fresh_target "$mode"
  "$TOOL" apply --quiet --assets-from "$SOURCE" "$WORK/target" >/dev/null 2>&1 &
  pid=$!
  delay_us=$((RANDOM * 32768 + RANDOM))
  delay_us=$((delay_us % duration_us))
  sleep "$(printf '0.%06d' "$delay_us")"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  if [ "$rc" -eq 137 ]; then
    kills_at_random=$((kills_at_random + 1))
    check_after_kill "$mode" "random kill after ${delay_us} us ($mode)"
  elif [ "$rc" -ne 0 ]; then
    fail "an apply exited with $rc"
  fi
done

echo "crash test: $((kills_at_points + kills_at_random)) kills ($kills_at_points at write steps," \
  "$kills_at_random at random moments); every file was the original or fully patched"
