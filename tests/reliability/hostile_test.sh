#!/usr/bin/env bash
# Hostile and broken input: each case prepares a model folder, runs minicpm-patch, and checks
# the exit code, an error line that names the file and what was expected, and that the
# folders' bytes did not change.
# Usage: hostile_test.sh TOOL FIXTURES_DIR
set -u

TOOL=$1
FIXTURES=$(cd "$2" && pwd)
WORK=$(mktemp -d)
chmod 755 "$WORK"  # The permission cases run the tool as nobody.
trap 'chmod -R u+rwX "$WORK"; rm -rf "$WORK"' EXIT
export HF_MODULES_CACHE="$WORK/hf-modules"
RECIPE="$FIXTURES/../recipes/minicpm-o-4_5.json"

cases=0
fail() {
  echo "FAIL [hostile: $NAME]: $*" >&2
  exit 1
}

tree_hash() {
  (cd "$1" && find . -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' path; do
    if [ -L "$path" ]; then echo "$path link $(readlink "$path")"
    elif [ -f "$path" ]; then echo "$path file $(stat -c %a "$path") $(sha256sum < "$path" | cut -c1-64)"
    else echo "$path dir $(stat -c %a "$path")"; fi
  done) | sha256sum | cut -c1-64
}

give_to_nobody() { [ "$(id -u)" -ne 0 ] || chown -R nobody:nogroup "$WORK/case"; }

# Prepares $M (BF16 sample copy) and $A (AWQ copy) for one case.
fresh() {
  rm -rf "$WORK/case"
  mkdir -p "$WORK/case"
  cp -r "$FIXTURES/sample/MiniCPM-o-4_5" "$FIXTURES/sample/MiniCPM-o-4_5-awq" "$WORK/case/"
  M="$WORK/case/MiniCPM-o-4_5"
  A="$WORK/case/MiniCPM-o-4_5-awq"
}

# expect NAME RC MESSAGE [--as-nobody] -- TOOL ARGS...
# MESSAGE must appear in one error line; every folder under $WORK/case must keep its bytes.
expect() {
  NAME=$1
  local rc=$2 message=$3
  shift 3
  local runner=()
  if [ "$1" = --as-nobody ]; then
    # Root passes permission checks, so root runs the tool as nobody; others run it as is.
    [ "$(id -u)" -eq 0 ] && runner=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    shift
  fi
  [ "$1" = -- ] && shift
  local before
  before=$(tree_hash "$WORK/case")
  local err actual
  err=$("${runner[@]}" "$TOOL" "$@" 2>&1 >/dev/null)
  actual=$?
  [ "$actual" -eq "$rc" ] || fail "exit code $actual, expected $rc: $err"
  grep -F -- "$message" <<<"$err" | grep -q "^minicpm-patch: error: " || fail "no error line with: $message
--- stderr
$err"
  [ "$(tree_hash "$WORK/case")" = "$before" ] || fail "the folders changed"
  cases=$((cases + 1))
}

# --- Recipes -----------------------------------------------------------------
fresh
echo '{"recipe": ' > "$WORK/r-malformed.json"
expect recipe-malformed 2 "$WORK/r-malformed.json: invalid JSON, expected a recipe object" -- apply --recipe "$WORK/r-malformed.json" "$M"
echo '[1, 2]' > "$WORK/r-array.json"
expect recipe-not-object 2 "$WORK/r-array.json: expected a JSON object at the top" -- apply --recipe "$WORK/r-array.json" "$M"
sed 's/"recipe":/"flavour": 1, "recipe":/' "$RECIPE" > "$WORK/r-unknown.json"
expect recipe-unknown-key 2 "$WORK/r-unknown.json: flavour: unknown key" -- apply --recipe "$WORK/r-unknown.json" "$M"
sed 's/"function": "chat",/"function": 7,/' "$RECIPE" > "$WORK/r-type.json"
expect recipe-wrong-type 2 "$WORK/r-type.json: patches[0].function: expected a string, got 7" -- apply --recipe "$WORK/r-type.json" "$M"
sed 's/"call": "self.prepare_generation_config",//' "$RECIPE" > "$WORK/r-missing.json"
expect recipe-missing-field 2 "$WORK/r-missing.json: patches[0].call: missing, expected a string" -- apply --recipe "$WORK/r-missing.json" "$M"
sed '0,/"file": "modeling_minicpmo.py"/s//"file": "..\/x.py"/' "$RECIPE" > "$WORK/r-dotdot.json"
expect recipe-path-dotdot 2 "patches[0].file: \"../x.py\" is absolute or leaves the model folder" -- apply --recipe "$WORK/r-dotdot.json" "$M"
sed '0,/"file": "modeling_minicpmo.py"/s//"file": "\/etc\/passwd"/' "$RECIPE" > "$WORK/r-absolute.json"
expect recipe-path-absolute 2 "patches[0].file: \"/etc/passwd\" is absolute or leaves the model folder" -- apply --recipe "$WORK/r-absolute.json" "$M"
sed 's/"id": "chat-stream-return"/"id": "chat-stream-single-beam"/' "$RECIPE" > "$WORK/r-dup.json"
expect recipe-duplicate-id 2 "patches[1].id: \"chat-stream-single-beam\" is used twice" -- apply --recipe "$WORK/r-dup.json" "$M"
sed '0,/"kind": "python-insert"/s//"kind": "shell"/' "$RECIPE" > "$WORK/r-kind.json"
expect recipe-bad-kind 2 "patches[0].kind: expected \"python-insert\", \"json-value\" or \"copy-directory\", got \"shell\"" -- apply --recipe "$WORK/r-kind.json" "$M"
expect recipe-file-missing 2 "$WORK/none.json: cannot open for reading" -- apply --recipe "$WORK/none.json" "$M"
mkdir "$WORK/r-dir.json"
expect recipe-is-folder 2 "$WORK/r-dir.json: not a regular file" -- apply --recipe "$WORK/r-dir.json" "$M"

# --- Model folder and options ---------------------------------------------------
fresh
expect model-dir-missing 2 "$WORK/case/absent: model folder not found, expected an existing folder" -- apply "$WORK/case/absent"
expect model-dir-is-file 2 "$M/config.json: not a folder, expected a model folder" -- apply "$M/config.json"
expect only-unknown 2 "--only nope: no such patch in recipe minicpm-o-4_5" -- apply --only nope "$M"
expect assets-from-missing 2 "--assets-from $WORK/case/absent: folder not found, expected the BF16 model folder" -- apply --assets-from "$WORK/case/absent" "$A"
expect assets-from-file 2 "--assets-from $M/config.json: folder not found, expected the BF16 model folder" -- apply --assets-from "$M/config.json" "$A"

fresh
mv "$M/modeling_minicpmo.py" "$WORK/outside.py"
ln -s "$WORK/outside.py" "$M/modeling_minicpmo.py"
expect symlink-outside 3 "$M/modeling_minicpmo.py: symlink points outside the model folder (to $WORK/outside.py)" -- apply "$M"
fresh
rm "$M/modeling_minicpmo.py"
ln -s "$M/nowhere.py" "$M/modeling_minicpmo.py"
expect symlink-broken 3 "$M/modeling_minicpmo.py: broken symlink, expected a file" -- apply --recipe minicpm-o-4_5 "$M"
fresh
rm "$M/modeling_minicpmo.py"
expect modeling-missing 3 "$M/modeling_minicpmo.py: file not found, expected the model's modeling_minicpmo.py" -- apply --recipe minicpm-o-4_5 "$M"
fresh
rm "$M/modeling_minicpmo.py"
mkdir "$M/modeling_minicpmo.py"
expect modeling-is-folder 3 "$M/modeling_minicpmo.py: not a regular file, expected a text file" -- apply --recipe minicpm-o-4_5 "$M"

# --- config.json ----------------------------------------------------------------
for variant in invalid:"config.json:6:3: invalid JSON: missing ',' or '}'" \
  duplicate_key:"config.json:41:5: duplicate key quantization_config.modules_to_not_convert (2 times), expected it once" \
  unexpected_string:"quantization_config.modules_to_not_convert is \"vpm\", expected null (upstream) or the patched value" \
  key_missing:"quantization_config.modules_to_not_convert is missing, expected it to be null"; do
  fresh
  cp "$FIXTURES/config/${variant%%:*}.json" "$A/config.json"
  expect "config-${variant%%:*}" 3 "${variant#*:}" -- apply --recipe minicpm-o-4_5-awq "$A"
done
fresh
python3 -c 'import json, sys
config = json.load(open(sys.argv[1]))
config["quantization_config"] = [config["quantization_config"]]
print(json.dumps(config, indent=2, sort_keys=True))' "$FIXTURES/sample/MiniCPM-o-4_5-awq/config.json" > "$A/config.json"
expect config-wrong-type 3 "quantization_config is an array, expected an object holding \"modules_to_not_convert\"" -- apply --recipe minicpm-o-4_5-awq "$A"
fresh
echo '[]' > "$A/config.json"
expect config-top-level-array 3 "$A/config.json:1:1: the top-level value is an array, expected an object" -- apply --recipe minicpm-o-4_5-awq "$A"
fresh
: > "$A/config.json"
expect config-empty 3 "$A/config.json:1:1: invalid JSON: unexpected end of the file, expected a value" -- apply --recipe minicpm-o-4_5-awq "$A"
fresh
{ printf '{"quantization_config": {"modules_to_not_convert": null}, "x": '; head -c $((65 << 20)) /dev/zero | tr '\0' '1'; echo '}'; } > "$A/config.json"
expect config-very-large 3 "$A/config.json: file is 68157505 bytes, expected at most 67108864" -- apply --recipe minicpm-o-4_5-awq "$A"
fresh
{ printf '{"a": '; printf '[%.0s' $(seq 300); printf ']%.0s' $(seq 300); echo '}'; } > "$A/config.json"
expect config-too-deep 3 "invalid JSON: nesting deeper than 256 levels" -- apply --recipe minicpm-o-4_5-awq "$A"
fresh
rm "$A/config.json"
mkdir "$A/config.json"
expect config-is-folder 3 "$A/config.json: not a regular file, expected a text file" -- apply "$A"

# --- modeling_minicpmo.py ---------------------------------------------------------
fresh
printf 'x = "\xff\xfe"\n' >> "$M/modeling_minicpmo.py"
expect modeling-not-utf8 3 "$M/modeling_minicpmo.py:526: invalid UTF-8 byte sequence, expected UTF-8 Python source" -- apply "$M"
fresh
: > "$M/modeling_minicpmo.py"
expect modeling-empty 3 "$M/modeling_minicpmo.py: no function chat() found, expected exactly one" -- apply "$M"
fresh
printf 'x = 1\0\n' >> "$M/modeling_minicpmo.py"
expect modeling-nul 3 "$M/modeling_minicpmo.py:526: NUL byte in the file, expected UTF-8 Python source" -- apply "$M"
fresh
{ printf 'BLOB = "'; head -c $((10 << 20)) /dev/zero | tr '\0' 'a'; echo '"'; } > "$M/modeling_minicpmo.py"
expect modeling-10mb-line 3 "$M/modeling_minicpmo.py: no function chat() found, expected exactly one" -- apply "$M"
fresh
echo 'x = """never closed' >> "$M/modeling_minicpmo.py"
expect modeling-unterminated 3 "$M/modeling_minicpmo.py:526: unterminated string literal, expected a closing \"\"\"" -- apply "$M"
fresh
echo 'x = (1,' >> "$M/modeling_minicpmo.py"
expect modeling-unclosed-bracket 3 "$M/modeling_minicpmo.py:526: '(' is never closed" -- apply "$M"
fresh
cp "$FIXTURES/modeling/refactored.py" "$M/modeling_minicpmo.py"
expect modeling-two-chat 3 "chat() is defined 2 times (lines 296, 594), expected exactly one" -- apply "$M"
fresh
"$TOOL" apply --quiet "$M"
sed -i 's/            return res/            return None/' "$M/modeling_minicpmo.py"
expect modeling-edited-block 3 "the block after the marker of chat-stream-return was edited" -- apply "$M"
fresh
"$TOOL" apply --quiet "$M"
echo '{' > "$M/.minicpm-patches/state.json"
cp "$FIXTURES/sample/MiniCPM-o-4_5/modeling_minicpmo.py" "$M/modeling_minicpmo.py"
expect state-file-corrupt 3 "$M/.minicpm-patches/state.json: invalid state file" -- apply "$M"

# --- assets/ ------------------------------------------------------------------------
fresh
echo "not a folder" > "$A/assets"
expect assets-is-file 3 "$A/assets: exists but is not a folder, expected a folder or nothing" -- apply "$A"
fresh
mv "$M" "$WORK/case/bf16-elsewhere"
expect assets-no-source 2 "$A/assets: assets/ is missing and no source folder was found" -- apply "$A"
fresh
rm "$M/assets/token2wav/flow.pt"
expect assets-source-incomplete 3 "$M/assets: source is missing token2wav/flow.pt, expected every required file" -- apply "$A"
fresh
ln -s /etc/hostname "$M/assets/host.wav"
expect assets-source-link-outside 3 "$M/assets/host.wav: symlink points outside the source folder (to /etc/hostname)" -- apply "$A"

# --- Permissions and a full disk ---------------------------------------------------
fresh
give_to_nobody
chmod 000 "$M/assets/token2wav/hift.pt"
expect assets-source-unreadable 4 "$M/assets/token2wav/hift.pt: not readable" --as-nobody -- apply "$A"
fresh
give_to_nobody
chmod 000 "$M/modeling_minicpmo.py"
expect modeling-unreadable 4 "$M/modeling_minicpmo.py: cannot open for reading: Permission denied" --as-nobody -- apply "$M"
fresh
give_to_nobody
chmod 555 "$M"
expect folder-read-only 4 "$M/.minicpm-patches: cannot create folder: Permission denied" --as-nobody -- apply "$M"
fresh
give_to_nobody
chmod 444 "$M/modeling_minicpmo.py"
chmod 555 "$M"
expect file-and-folder-read-only 4 "Permission denied" --as-nobody -- apply "$M"
fresh
# A full disk: the file size limit makes writes past 16 KiB fail with EFBIG.
NAME=disk-full
before=$(tree_hash "$WORK/case")
err=$(trap '' XFSZ; ulimit -f 16; "$TOOL" apply "$M" 2>&1 >/dev/null)
rc=$?
[ "$rc" -eq 4 ] || fail "exit code $rc, expected 4: $err"
grep -q "^minicpm-patch: error: .*: write failed: File too large" <<<"$err" || fail "no write error: $err"
[ "$(tree_hash "$WORK/case")" = "$before" ] || fail "the folders changed"
cases=$((cases + 1))

echo "hostile input: $cases cases, each with its exit code, its message and the folder unchanged"
