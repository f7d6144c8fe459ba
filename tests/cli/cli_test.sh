#!/usr/bin/env bash
# CLI tests: each case runs the built minicpm-patch on copies of the fixtures and checks exit
# codes, exact messages and the bytes of the model folders.
# Usage: cli_test.sh TOOL FIXTURES_DIR CASE
set -u

TOOL=$1
FIXTURES=$2
CASE=$3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BF16="$WORK/MiniCPM-o-4_5"
# An empty transformers modules cache, so that the user's own cache cannot affect the tests.
export HF_MODULES_CACHE="$WORK/hf-modules"
AWQ="$WORK/MiniCPM-o-4_5-awq"

fail() {
  echo "FAIL [$CASE]: $*" >&2
  exit 1
}

# Copies both sample folders into the work folder.
copy_samples() { cp -r "$FIXTURES/sample/MiniCPM-o-4_5" "$FIXTURES/sample/MiniCPM-o-4_5-awq" "$WORK/"; }

# A model folder holding one modeling fixture with the BF16 config.
model_with() {
  local folder="$WORK/$1"
  mkdir -p "$folder"
  cp "$FIXTURES/modeling/$1" "$folder/modeling_minicpmo.py"
  cp "$FIXTURES/sample/MiniCPM-o-4_5/config.json" "$folder/config.json"
  echo "$folder"
}

# One digest over every path, type, mode, symlink target and file content below a folder.
tree_hash() {
  (cd "$1" && find . -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' path; do
    if [ -L "$path" ]; then
      echo "$path link $(readlink "$path")"
    elif [ -f "$path" ]; then
      echo "$path file $(stat -c %a "$path") $(sha256sum < "$path" | cut -c1-64)"
    else
      echo "$path dir $(stat -c %a "$path")"
    fi
  done) | sha256sum | cut -c1-64
}

# Runs the tool; sets RC, OUT and ERR.
run() {
  OUT=$("$TOOL" "$@" 2>"$WORK/.stderr")
  RC=$?
  ERR=$(cat "$WORK/.stderr")
}

expect_rc() { [ "$RC" -eq "$1" ] || fail "exit code $RC, expected $1; stderr: $ERR"; }

expect_err() {
  [ "$ERR" = "$1" ] || fail "stderr differs
--- expected
$1
--- actual
$ERR"
}

expect_out_line() { grep -qxF -- "$1" <<<"$OUT" || fail "stdout lacks the line: $1
--- stdout
$OUT"; }

expect_same_tree() { [ "$(tree_hash "$1")" = "$2" ] || fail "$1 changed, expected its bytes unchanged"; }

expect_parses() {
  python3 -c "import ast,sys; ast.parse(open(sys.argv[1], encoding='utf-8').read())" "$1" ||
    fail "$1 does not parse as Python"
}

state_of() { awk -v id="$1" '$1 == id { print $3 }' <<<"$OUT"; }

expect_state() { [ "$(state_of "$1")" = "$2" ] || fail "$1 is '$(state_of "$1")', expected $2
$OUT"; }

case_bf16_apply_verify_revert() {
  copy_samples
  local original file_hash
  original=$(tree_hash "$BF16")
  file_hash=$(sha256sum < "$BF16/modeling_minicpmo.py")

  run apply "$BF16"
  expect_rc 0
  expect_state chat-stream-single-beam applied
  expect_state chat-stream-return applied
  expect_parses "$BF16/modeling_minicpmo.py"
  [ "$(grep -c "PATCH: chat" "$BF16/modeling_minicpmo.py")" -eq 2 ] || fail "expected 2 marker lines"

  run verify "$BF16"
  expect_rc 0
  local patched
  patched=$(tree_hash "$BF16")
  run apply "$BF16"
  expect_rc 0
  expect_out_line "nothing to do: every selected patch is applied or upstream-fixed"
  expect_same_tree "$BF16" "$patched"

  run revert "$BF16"
  expect_rc 0
  expect_out_line "restored $BF16/modeling_minicpmo.py"
  [ "$(sha256sum < "$BF16/modeling_minicpmo.py")" = "$file_hash" ] || fail "revert changed the SHA-256"
  expect_same_tree "$BF16" "$original"
}

case_bf16_diff_exact() {
  copy_samples
  local original
  original=$(tree_hash "$BF16")
  run diff "$BF16"
  expect_rc 0
  [ "$OUT" = "$(cat "$FIXTURES/../tests/cli/expected/bf16.diff")" ] || fail "diff differs:
$OUT"
  expect_same_tree "$BF16" "$original"
  # The diff applies with patch(1) to give what apply writes.
  if command -v patch >/dev/null; then
    cp -r "$BF16" "$WORK/by-patch"
    (cd "$WORK/by-patch" && patch -s -p1 <<<"$OUT") || fail "patch(1) rejected the diff"
    run apply "$BF16"
    cmp -s "$WORK/by-patch/modeling_minicpmo.py" "$BF16/modeling_minicpmo.py" || fail "diff and apply disagree"
  fi
}

case_awq_apply_all() {
  copy_samples
  local original
  original=$(tree_hash "$AWQ")
  run apply --assets-from "$BF16" "$AWQ"
  expect_rc 0
  for id in chat-stream-single-beam chat-stream-return awq-modules-not-converted tts-assets; do
    expect_state "$id" applied
  done
  [ -f "$AWQ/assets/token2wav/flow.pt" ] || fail "assets were not copied"
  cmp -s "$AWQ/assets/token2wav/flow.pt" "$BF16/assets/token2wav/flow.pt" || fail "flow.pt differs"

  run verify --assets-from "$BF16" "$AWQ"
  expect_rc 0
  run verify --deep --assets-from "$BF16" "$AWQ"
  expect_rc 0
  expect_out_line "tts-assets                 assets                applied         $AWQ/assets: 7 files match $BF16/assets (size and SHA-256)"

  run revert "$AWQ"
  expect_rc 0
  [ ! -e "$AWQ/assets" ] || fail "revert left assets/"
  expect_same_tree "$AWQ" "$original"
}

case_awq_config_diff() {
  copy_samples
  run diff --only awq-modules-not-converted "$AWQ"
  expect_rc 0
  [ "$(grep -c '^-[^-]' <<<"$OUT")" -eq 1 ] || fail "expected one removed line:
$OUT"
  grep -qxF -- '-    "modules_to_not_convert": null,' <<<"$OUT" || fail "the removed line is not the null value"
  [ "$(grep -c '^+[^+]' <<<"$OUT")" -eq 11 ] || fail "expected 11 added lines"
}

case_awq_sibling_source() {
  copy_samples
  run apply "$AWQ"
  expect_rc 0
  expect_err "minicpm-patch: note: using $BF16 as the source of assets/ (sibling folder; pass --assets-from to choose another)"
  expect_state tts-assets applied
}

case_awq_no_source() {
  mkdir -p "$WORK/alone"
  cp -r "$FIXTURES/sample/MiniCPM-o-4_5-awq" "$WORK/alone/"
  local folder="$WORK/alone/MiniCPM-o-4_5-awq" original
  original=$(tree_hash "$folder")
  run apply "$folder"
  expect_rc 2
  expect_err "minicpm-patch: error: $folder/assets: assets/ is missing and no source folder was found, expected --assets-from with the BF16 model folder; fetch it with: huggingface-cli download openbmb/MiniCPM-o-4_5 --local-dir BF16_DIR --include \"assets/*\""
  expect_same_tree "$folder" "$original"
  run verify "$folder"
  expect_rc 1
}

case_awq_incomplete_source() {
  copy_samples
  rm "$BF16/assets/token2wav/hift.pt" "$BF16/assets/token2wav/flow.yaml"
  local original
  original=$(tree_hash "$AWQ")
  run apply "$AWQ"
  expect_rc 3
  expect_err "minicpm-patch: error: $BF16/assets: source is missing token2wav/flow.yaml, token2wav/hift.pt, expected every required file; fetch them with: huggingface-cli download openbmb/MiniCPM-o-4_5 --local-dir $BF16 --include \"assets/*\""
  expect_same_tree "$AWQ" "$original"
}

case_awq_source_symlink_outside() {
  copy_samples
  echo secret > "$WORK/outside.bin"
  ln -s "$WORK/outside.bin" "$BF16/assets/token2wav/extra.bin"
  local original
  original=$(tree_hash "$AWQ")
  run apply --assets-from "$BF16" "$AWQ"
  expect_rc 3
  expect_err "minicpm-patch: error: $BF16/assets/token2wav/extra.bin: symlink points outside the source folder (to $WORK/outside.bin), expected a file inside it"
  expect_same_tree "$AWQ" "$original"
}

case_awq_partial_assets() {
  copy_samples
  mkdir -p "$AWQ/assets/token2wav"
  cp "$BF16/assets/token2wav/flow.yaml" "$AWQ/assets/token2wav/"
  echo "user notes" > "$AWQ/assets/NOTES.txt"
  echo "stale" > "$AWQ/assets/token2wav/hift.pt"
  local user_hift
  user_hift=$(sha256sum < "$AWQ/assets/token2wav/hift.pt")
  local original
  original=$(tree_hash "$AWQ")
  run apply --only tts-assets "$AWQ"
  expect_rc 0
  expect_out_line "copied 6 files (20504 bytes) into $AWQ/assets"
  [ "$(cat "$AWQ/assets/NOTES.txt")" = "user notes" ] || fail "apply touched a user file"
  cmp -s "$AWQ/assets/token2wav/hift.pt" "$BF16/assets/token2wav/hift.pt" || fail "hift.pt not replaced"
  run revert "$AWQ"
  expect_rc 0
  [ "$(sha256sum < "$AWQ/assets/token2wav/hift.pt")" = "$user_hift" ] || fail "revert did not restore hift.pt"
  expect_same_tree "$AWQ" "$original"
}

case_progress_on_terminal() {
  copy_samples
  run apply --only tts-assets --assets-from "$BF16" "$AWQ"
  expect_rc 0
  ! grep -q "copying:" <<<"$ERR" || fail "progress was printed to a stderr that is not a terminal"
  run revert "$AWQ"
  # script(1) runs the tool on a pseudo-terminal and records what it prints there.
  local screen
  screen=$(script -qec "'$TOOL' apply --only tts-assets --assets-from '$BF16' '$AWQ'" /dev/null)
  grep -q "copying: 0 of 0 MiB, [0-9]* MiB/s, 0 s left" <<<"$screen" || fail "no progress line on a terminal:
$screen"
}

case_awq_link_mode() {
  copy_samples
  run apply --link --only tts-assets "$AWQ"
  expect_rc 0
  [ "$(stat -c %i "$AWQ/assets/token2wav/flow.pt")" = "$(stat -c %i "$BF16/assets/token2wav/flow.pt")" ] ||
    fail "--link made a copy, expected a hard link"
}

case_interrupted_copy() {
  copy_samples
  MINICPM_PATCH_TEST_KILL_AT='between-files#3' "$TOOL" apply --only tts-assets "$AWQ" >/dev/null 2>&1
  RC=$?
  [ "$RC" -eq 137 ] || fail "exit code $RC, expected 137 (killed at the fault point)"
  [ ! -e "$AWQ/assets" ] || fail "an interrupted copy left a half-filled assets/"
  run apply --only tts-assets "$AWQ"
  expect_rc 0
  run verify --deep --only tts-assets "$AWQ"
  expect_rc 0
  [ -z "$(ls -A "$AWQ/.minicpm-patches/staging" 2>/dev/null)" ] || fail "staging files were left behind"
}

case_upstream_fixed_untouched() {
  for fixture in upstream_fixed.py minicpmv_2_6.py; do
    local folder original
    folder=$(model_with "$fixture")
    original=$(tree_hash "$folder")
    run apply "$folder"
    expect_rc 0
    expect_state chat-stream-single-beam upstream-fixed
    expect_state chat-stream-return upstream-fixed
    run verify "$folder"
    expect_rc 0
    expect_same_tree "$folder" "$original"
  done
}

case_variants_apply() {
  for fixture in crlf.py tabs.py decoy_marker.py brackets_in_comments.py fork_edits.py nested_def.py; do
    local folder
    folder=$(model_with "$fixture")
    run apply "$folder"
    expect_rc 0
    expect_parses "$folder/modeling_minicpmo.py"
    run verify "$folder"
    expect_rc 0
    run revert "$folder"
    expect_rc 0
    cmp -s "$folder/modeling_minicpmo.py" "$FIXTURES/modeling/$fixture" || fail "$fixture: revert differs"
  done
}

case_byte_order_mark_kept() {
  copy_samples
  { printf '\xef\xbb\xbf'; cat "$FIXTURES/sample/MiniCPM-o-4_5/modeling_minicpmo.py"; } > "$BF16/modeling_minicpmo.py"
  run apply "$BF16"
  expect_rc 0
  [ "$(head -c 3 "$BF16/modeling_minicpmo.py" | od -An -tx1 | tr -d ' ')" = efbbbf ] || fail "the byte order mark was lost"
  run revert "$BF16"
  expect_rc 0
  [ "$(head -c 3 "$BF16/modeling_minicpmo.py" | od -An -tx1 | tr -d ' ')" = efbbbf ] || fail "revert lost the byte order mark"
}

case_drift_two_calls() {
  local folder original
  folder=$(model_with two_generate_calls.py)
  original=$(tree_hash "$folder")
  run apply "$folder"
  expect_rc 3
  expect_err "minicpm-patch: error: $folder/modeling_minicpmo.py:436: self.generate( is called 2 times in chat() (lines 436, 455), expected exactly one call [chat-stream-return]
minicpm-patch: error: nothing was written; fix the files above, or leave those patches out with --only"
  expect_same_tree "$folder" "$original"
  run verify "$folder"
  expect_rc 1
  # --only narrows the selection to the patch that can be applied.
  run apply --only chat-stream-single-beam "$folder"
  expect_rc 0
}

case_drift_no_chat() {
  local folder original
  folder=$(model_with no_chat.py)
  original=$(tree_hash "$folder")
  run apply "$folder"
  expect_rc 3
  expect_err "minicpm-patch: error: $folder/modeling_minicpmo.py: no function chat() found, expected exactly one [chat-stream-single-beam]
minicpm-patch: error: $folder/modeling_minicpmo.py: no function chat() found, expected exactly one [chat-stream-return]
minicpm-patch: error: nothing was written; fix the files above, or leave those patches out with --only"
  expect_same_tree "$folder" "$original"
  run diff "$folder"
  expect_rc 3
}

case_drift_invalid_config() {
  copy_samples
  cp "$FIXTURES/config/invalid.json" "$AWQ/config.json"
  local original
  original=$(tree_hash "$AWQ")
  run apply --recipe minicpm-o-4_5-awq "$AWQ"
  expect_rc 3
  expect_err "minicpm-patch: error: $AWQ/config.json:6:3: invalid JSON: missing ',' or '}', expected ',' or '}' [awq-modules-not-converted]
minicpm-patch: error: nothing was written; fix the files above, or leave those patches out with --only"
  expect_same_tree "$AWQ" "$original"
}

case_usage_errors() {
  copy_samples
  local original
  original=$(tree_hash "$BF16")
  run status "$WORK/missing"
  expect_rc 2
  expect_err "minicpm-patch: error: $WORK/missing: model folder not found, expected an existing folder"
  run status "$BF16/config.json"
  expect_rc 2
  expect_err "minicpm-patch: error: $BF16/config.json: not a folder, expected a model folder"
  run apply --only no-such-patch "$BF16"
  expect_rc 2
  expect_err "minicpm-patch: error: --only no-such-patch: no such patch in recipe minicpm-o-4_5, expected one of: chat-stream-single-beam, chat-stream-return"
  run apply --recipe nonexistent "$BF16"
  expect_rc 2
  expect_err "minicpm-patch: error: --recipe nonexistent: no built-in recipe and no file of that name, expected one of: minicpm-o-4_5, minicpm-o-4_5-awq, or a recipe file"
  run apply --bogus "$BF16"
  expect_rc 2
  run frobnicate "$BF16"
  expect_rc 2
  expect_err "minicpm-patch: error: unknown command 'frobnicate', expected one of: status, apply, verify, diff, revert, recipes; run minicpm-patch --help"
  mkdir "$WORK/empty"
  run status "$WORK/empty"
  expect_rc 2
  expect_err "minicpm-patch: error: $WORK/empty: no built-in recipe matches this folder, expected a MiniCPM-o 4.5 model folder; candidates: minicpm-o-4_5, minicpm-o-4_5-awq; pass --recipe ID or --recipe FILE"
  expect_same_tree "$BF16" "$original"
}

case_recipe_file_errors() {
  copy_samples
  local original
  original=$(tree_hash "$BF16")
  echo '{"recipe": "x"' > "$WORK/broken.json"
  run apply --recipe "$WORK/broken.json" "$BF16"
  expect_rc 2
  [[ "$ERR" == "minicpm-patch: error: $WORK/broken.json: invalid JSON, expected a recipe object: "*"line 2, column 1"* ]] ||
    fail "unexpected message: $ERR"
  sed 's/"file": "modeling_minicpmo.py"/"file": "..\/..\/etc\/hosts"/' "$FIXTURES/../recipes/minicpm-o-4_5.json" > "$WORK/escape.json"
  run apply --recipe "$WORK/escape.json" "$BF16"
  expect_rc 2
  expect_err "minicpm-patch: error: $WORK/escape.json: patches[0].file: \"../../etc/hosts\" is absolute or leaves the model folder, expected a relative path inside it"
  expect_same_tree "$BF16" "$original"
}

case_recipe_file_with_class() {
  local folder
  folder=$(model_with refactored.py)
  run status "$folder"
  expect_state chat-stream-return drifted
  sed 's/"function": "chat",/"function": "chat", "class": "MiniCPMO",/' "$FIXTURES/../recipes/minicpm-o-4_5.json" > "$WORK/class.json"
  run apply --recipe "$WORK/class.json" "$folder"
  expect_rc 0
  expect_state chat-stream-return applied
  expect_parses "$folder/modeling_minicpmo.py"
}

case_model_symlink_outside() {
  copy_samples
  mv "$BF16/modeling_minicpmo.py" "$WORK/elsewhere.py"
  ln -s "$WORK/elsewhere.py" "$BF16/modeling_minicpmo.py"
  local original
  original=$(tree_hash "$BF16")
  run apply "$BF16"
  expect_rc 3
  expect_err "minicpm-patch: error: $BF16/modeling_minicpmo.py: symlink points outside the model folder (to $WORK/elsewhere.py), expected a file inside it or in the Hub cache's blobs/ [chat-stream-single-beam]
minicpm-patch: error: $BF16/modeling_minicpmo.py: symlink points outside the model folder (to $WORK/elsewhere.py), expected a file inside it or in the Hub cache's blobs/ [chat-stream-return]
minicpm-patch: error: nothing was written; fix the files above, or leave those patches out with --only"
  expect_same_tree "$BF16" "$original"
}

case_hub_cache_layout() {
  local cache="$WORK/hub/models--openbmb--MiniCPM-o-4_5"
  local snapshot="$cache/snapshots/0123abc"
  mkdir -p "$cache/blobs" "$snapshot"
  for file in modeling_minicpmo.py config.json; do
    local blob
    blob=$(sha256sum < "$FIXTURES/sample/MiniCPM-o-4_5/$file" | cut -c1-64)
    cp "$FIXTURES/sample/MiniCPM-o-4_5/$file" "$cache/blobs/$blob"
    ln -s "../../blobs/$blob" "$snapshot/$file"
  done
  local blobs_before snapshot_before
  blobs_before=$(tree_hash "$cache/blobs")
  snapshot_before=$(tree_hash "$snapshot")
  run apply "$snapshot"
  expect_rc 0
  [ -f "$snapshot/modeling_minicpmo.py" ] && [ ! -L "$snapshot/modeling_minicpmo.py" ] ||
    fail "the patched file is still a symlink"
  expect_out_line "patched $snapshot/modeling_minicpmo.py (the symlink is now a regular file)"
  expect_same_tree "$cache/blobs" "$blobs_before"
  for blob in "$cache"/blobs/*; do
    [ "$(sha256sum < "$blob" | cut -c1-64)" = "$(basename "$blob")" ] || fail "blob $blob changed"
  done
  run revert "$snapshot"
  expect_rc 0
  [ -L "$snapshot/modeling_minicpmo.py" ] || fail "revert did not restore the symlink"
  expect_same_tree "$snapshot" "$snapshot_before"
}

case_redownload_reapply() {
  copy_samples
  run apply "$BF16"
  expect_rc 0
  # A re-download puts the upstream file back, here with an unrelated upstream change.
  { cat "$FIXTURES/sample/MiniCPM-o-4_5/modeling_minicpmo.py"; echo "# upstream revision 2"; } > "$BF16/modeling_minicpmo.py"
  local new_original
  new_original=$(sha256sum < "$BF16/modeling_minicpmo.py")
  run verify "$BF16"
  expect_rc 1
  run apply "$BF16"
  expect_rc 0
  run revert "$BF16"
  expect_rc 0
  [ "$(sha256sum < "$BF16/modeling_minicpmo.py")" = "$new_original" ] || fail "revert did not restore the new download"
}

case_concurrent_apply() {
  copy_samples
  local pids=() i
  for i in 1 2 3 4 5 6 7 8; do
    "$TOOL" apply --quiet "$BF16" 2>"$WORK/err.$i" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || fail "run $((i + 1)) exited non-zero: $(cat "$WORK/err.$((i + 1))")"
  done
  [ "$(grep -c "PATCH: chat-stream-return" "$BF16/modeling_minicpmo.py")" -eq 1 ] || fail "expected exactly one block"
  [ "$(grep -c "PATCH: chat-stream-single-beam" "$BF16/modeling_minicpmo.py")" -eq 1 ] || fail "expected exactly one block"
  run verify "$BF16"
  expect_rc 0
}

case_json_report() {
  copy_samples
  run status --json "$AWQ"
  expect_rc 0
  python3 - "$OUT" <<'PY' || fail "unexpected JSON report: $OUT"
import json, sys
report = json.loads(sys.argv[1])
assert report["recipe"] == "minicpm-o-4_5-awq"
assert [p["state"] for p in report["patches"]] == ["pending"] * 4
assert report["exit_code"] == 0
PY
  run verify --json "$AWQ"
  expect_rc 1
  grep -q '"exit_code": 1' <<<"$OUT" || fail "JSON lacks exit_code 1"
}

case_help_lists_exit_codes() {
  run --help
  expect_rc 0
  expect_out_line "  3  a patch cannot be applied: its anchor is missing or ambiguous, the file is invalid,"
  run recipes
  expect_rc 0
  expect_out_line "  tts-assets (assets): copy the Token2wav vocoder and reference voices from the BF16 model"
}

case_stale_modules_cache() {
  copy_samples
  local modules="$HF_MODULES_CACHE/transformers_modules"
  # The folder name as it is, escaped, and escaped with a content-hash subfolder.
  local copies=("$modules/MiniCPM-o-4_5" "$modules/MiniCPM_hyphen_o_hyphen_4_5"
    "$modules/MiniCPM_hyphen_o_hyphen_4_5/0f1e2d3c")
  local copy
  for copy in "${copies[@]}"; do
    mkdir -p "$copy"
    cp "$BF16/modeling_minicpmo.py" "$copy/"
  done
  run apply --quiet "$BF16"
  expect_rc 0
  run status "$BF16"
  expect_rc 0
  for copy in "${copies[@]}"; do
    grep -qxF "minicpm-patch: warning: $copy/modeling_minicpmo.py: stale copy of $BF16/modeling_minicpmo.py in the transformers modules cache, expected the same bytes; transformers may load it in place of the patched file; run minicpm-patch apply --refresh-modules-cache $BF16 or delete it" <<<"$ERR" ||
      fail "status does not report $copy: $ERR"
  done
  run verify --quiet "$BF16"
  expect_rc 1
  [ "$(grep -c "^minicpm-patch: error: .*stale copy of" <<<"$ERR")" -eq 3 ] || fail "verify must name 3 stale copies: $ERR"

  run apply --refresh-modules-cache "$BF16"
  expect_rc 0
  expect_out_line "refreshed $modules/MiniCPM-o-4_5/modeling_minicpmo.py from $BF16/modeling_minicpmo.py"
  for copy in "${copies[@]}"; do
    cmp -s "$copy/modeling_minicpmo.py" "$BF16/modeling_minicpmo.py" || fail "$copy was not refreshed"
  done
  run verify "$BF16"
  expect_rc 0
}

case_hub_auto_map_warning() {
  copy_samples
  cp "$FIXTURES/config/hub_auto_map.json" "$AWQ/config.json"
  run status "$AWQ"
  expect_rc 0
  grep -qxF "minicpm-patch: warning: $AWQ/config.json: auto_map.AutoModel is \"openbmb/MiniCPM-o-4_5--modeling_minicpmo.MiniCPMO\", so transformers loads that Hub repository's code and ignores the patched local files; expected a local reference such as \"modeling_minicpmo.MiniCPMO\"" <<<"$ERR" ||
    fail "no auto_map warning: $ERR"
}

"case_$CASE"
echo "PASS [$CASE]"
