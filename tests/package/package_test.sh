#!/usr/bin/env bash
# Package tests: small consumer projects use the installed (and moved) MiniCPMPatches package,
# or the source tree with add_subdirectory, and the tests check the model folders they patch.
# Usage: package_test.sh SOURCE_DIR BUILD_DIR WORK_DIR CASE
set -u

SOURCE=$1
BUILD=$2
WORK_ROOT=$3
CASE=$4
PREFIX="$WORK_ROOT/moved-prefix"
export HF_MODULES_CACHE="$WORK_ROOT/hf-modules"
HERE="$SOURCE/tests/package"
WORK="$WORK_ROOT/$CASE"
rm -rf "$WORK"
mkdir -p "$WORK"
MODEL="$WORK/MiniCPM-o-4_5"
cp -r "$SOURCE/fixtures/sample/MiniCPM-o-4_5" "$MODEL"
ORIGINAL="$SOURCE/fixtures/sample/MiniCPM-o-4_5/modeling_minicpmo.py"

fail() {
  echo "FAIL [$CASE]: $*" >&2
  exit 1
}

fold_space() { tr -s ' \n' '  '; }

markers() { grep -c "PATCH: chat" "$MODEL/modeling_minicpmo.py"; }

# Configures the consumer project into $WORK/build; sets RC and LOG.
configure_consumer() {
  LOG=$(cmake -S "$HERE/consumer" -B "$WORK/build" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DMODEL_DIR="$MODEL" "$@" 2>&1)
  RC=$?
}

build_consumer() {
  LOG=$(cmake --build "$WORK/build" 2>&1)
  RC=$?
}

# A re-download puts the upstream file back, with a newer modification time.
redownload() {
  sleep 1
  cp "$ORIGINAL" "$MODEL/modeling_minicpmo.py"
  touch "$MODEL/modeling_minicpmo.py"
}

case_install_moved() {
  rm -rf "$WORK_ROOT/prefix" "$PREFIX"
  cmake --install "$BUILD" --prefix "$WORK_ROOT/prefix" >/dev/null || fail "cmake --install failed"
  mv "$WORK_ROOT/prefix" "$PREFIX"
  for file in bin/minicpm-patch lib/cmake/MiniCPMPatches/MiniCPMPatchesConfig.cmake \
    lib/cmake/MiniCPMPatches/MiniCPMPatchesConfigVersion.cmake \
    lib/cmake/MiniCPMPatches/MiniCPMPatchesTargets.cmake lib/cmake/MiniCPMPatches/MiniCPMPatches.cmake \
    share/MiniCPMPatches/minicpm_chat_smoke.py share/MiniCPMPatches/recipes/minicpm-o-4_5.json; do
    [ -f "$PREFIX/$file" ] || fail "the install lacks $file"
  done
  ! grep -rq "$WORK_ROOT/prefix" "$PREFIX/lib/cmake" || fail "the package records its install prefix"
}

case_configure_patches() {
  configure_consumer -DREQUEST_VERSION=0.1 -DPATCH_WHEN=CONFIGURE
  [ "$RC" -eq 0 ] || fail "configure failed: $LOG"
  [ "$(markers)" -eq 2 ] || fail "the folder is not patched after configure"
  grep -qxF -- "-- minicpm_patch_model(sample_model): patched $MODEL/modeling_minicpmo.py" <<<"$LOG" ||
    fail "configure does not say what it patched: $LOG"
  (cd "$WORK/build" && ctest -L patches --output-on-failure >/dev/null) || fail "ctest -L patches failed"

  redownload
  [ "$(markers)" -eq 0 ] || fail "the re-download did not restore the original"
  build_consumer
  [ "$RC" -eq 0 ] || fail "the build failed: $LOG"
  [ "$(markers)" -eq 2 ] || fail "the build did not re-run configure to patch again: $LOG"
}

case_default_is_configure() {
  configure_consumer -DPATCH_WHEN=DEFAULT
  [ "$RC" -eq 0 ] || fail "configure failed: $LOG"
  [ "$(markers)" -eq 2 ] || fail "the default WHEN did not patch at configure time"
}

case_build_patches() {
  configure_consumer -DPATCH_WHEN=BUILD
  [ "$RC" -eq 0 ] || fail "configure failed: $LOG"
  [ "$(markers)" -eq 0 ] || fail "WHEN BUILD patched at configure time"
  build_consumer
  [ "$RC" -eq 0 ] || fail "the build failed: $LOG"
  [ "$(markers)" -eq 2 ] || fail "the folder is not patched after the build"

  redownload
  build_consumer
  [ "$(markers)" -eq 2 ] || fail "the build after a re-download did not patch again: $LOG"
  build_consumer
  grep -q "Patching the model folder" <<<"$LOG" && fail "a build with nothing changed patched again"
  true
}

case_ctest_fails_unpatched() {
  configure_consumer -DPATCH_WHEN=NONE
  [ "$RC" -eq 0 ] || fail "configure failed: $LOG"
  LOG=$(cd "$WORK/build" && ctest -L patches --output-on-failure 2>&1)
  RC=$?
  [ "$RC" -ne 0 ] || fail "ctest -L patches passed on an unpatched folder"
  grep -qF "chat-stream-return is pending, expected applied or upstream-fixed" <<<"$LOG" ||
    fail "the test output lacks the tool's message: $LOG"
}

case_version_too_high() {
  configure_consumer -DREQUEST_VERSION=1.0 -DPATCH_WHEN=NONE
  [ "$RC" -ne 0 ] || fail "find_package(MiniCPMPatches 1.0) succeeded, expected a version mismatch"
  grep -qF "MiniCPMPatches" <<<"$LOG" && grep -q "version" <<<"$LOG" || fail "no version message: $LOG"
}

case_configure_failure_details() {
  cp "$SOURCE/fixtures/modeling/two_generate_calls.py" "$MODEL/modeling_minicpmo.py"
  configure_consumer -DPATCH_WHEN=CONFIGURE
  [ "$RC" -ne 0 ] || fail "configure succeeded on a drifted folder"
  for line in "minicpm_patch_model(sample_model): patching the model folder failed." \
    "  Model folder: '$MODEL'" "  Exit code: 3" \
    "    minicpm-patch: error: $MODEL/modeling_minicpmo.py:436: self.generate( is called 2 times in chat() (lines 436, 455), expected exactly one call [chat-stream-return]"; do
    grep -qF -- "$line" <<<"$LOG" || fail "configure output lacks: $line
$LOG"
  done
}

case_smoke_skipped() {
  configure_consumer -DPATCH_WHEN=CONFIGURE -DSMOKE_TEST=ON
  [ "$RC" -eq 0 ] || fail "configure failed: $LOG"
  LOG=$(cd "$WORK/build" && ctest -L smoke -V 2>&1)
  RC=$?
  [ "$RC" -eq 0 ] || fail "ctest -L smoke failed: $LOG"
  grep -q "sample_model.smoke .*Skipped" <<<"$LOG" || fail "the smoke test was not reported as skipped: $LOG"
  grep -q "torch" <<<"$LOG" || fail "the skip reason is missing: $LOG"
}

# The source tree inside a consumer build: $1 is OFF for add_subdirectory, ON for FetchContent.
check_source_tree_consumer() {
  LOG=$(cmake -S "$HERE/consumer" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DMINICPM_SOURCE_DIR="$SOURCE" -DUSE_FETCHCONTENT="$1" -DMODEL_DIR="$MODEL" -DPATCH_WHEN=DEFAULT 2>&1)
  [ $? -eq 0 ] || fail "configure failed: $LOG"
  grep -qF "minicpm_patch_model(sample_model): minicpm-patch is built with this project, so the folder is patched at build time (WHEN BUILD)" <<<"$LOG" ||
    fail "no message about the fallback to WHEN BUILD: $LOG"
  LOG=$(cmake --build "$WORK/build" --parallel 2 2>&1)
  [ $? -eq 0 ] || fail "the build failed: $LOG"
  [ "$(markers)" -eq 2 ] || fail "the folder is not patched after the build"
  (cd "$WORK/build" && ctest -L consumer --output-on-failure >/dev/null) || fail "the consumer's verify test failed"
}

case_add_subdirectory() { check_source_tree_consumer OFF; }

case_fetchcontent() { check_source_tree_consumer ON; }

# Each misuse stops configure with a message naming the function.
case_misuse() {
  local calls=(
    "minicpm_patch_model(m MODEL_DIR \"$MODEL\" BOGUS 1)"
    "minicpm_patch_model(m WHEN BUILD)"
    "minicpm_patch_model(m MODEL_DIR \"$WORK/absent\")"
    "minicpm_patch_model(m MODEL_DIR \"$MODEL\" WHEN LATER)"
    "minicpm_patch_model(MODEL_DIR \"$MODEL\")"
    "minicpm_verify_model(m MODEL_DIR \"$MODEL\" TIMEOUT 5)"
    "minicpm_verify_model(m MODEL_DIR \"$MODEL\" SMOKE_TEST TIMEOUT soon)"
    "minicpm_verify_model(m MODEL_DIR)"
  )
  local messages=(
    "minicpm_patch_model(m): unknown argument 'BOGUS'"
    "minicpm_patch_model(m): missing MODEL_DIR, expected MODEL_DIR <dir>"
    "minicpm_patch_model(m): MODEL_DIR '$WORK/absent' is not an existing folder"
    "minicpm_patch_model(m): WHEN is 'LATER', expected CONFIGURE or BUILD"
    "minicpm_patch_model: missing <name>, expected minicpm_patch_model(<name> MODEL_DIR <dir> ...)"
    "minicpm_verify_model(m): PYTHON, TIMEOUT and ARGS go with SMOKE_TEST"
    "minicpm_verify_model(m): TIMEOUT is 'soon', expected whole seconds"
    "minicpm_verify_model(m): no value given for MODEL_DIR"
  )
  local i
  for i in "${!calls[@]}"; do
    rm -rf "$WORK/misuse-build"
    LOG=$(cmake -S "$HERE/misuse" -B "$WORK/misuse-build" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" \
      -DMISUSE_CALL="${calls[$i]}" 2>&1)
    RC=$?
    [ "$RC" -ne 0 ] || fail "configure accepted: ${calls[$i]}"
    # CMake wraps long messages: compare with the white space folded.
    grep -qF -- "$(fold_space <<<"${messages[$i]}")" <<<"$(fold_space <<<"$LOG")" || fail "for ${calls[$i]}, expected the message: ${messages[$i]}
$LOG"
  done
  echo "misuse cases checked: ${#calls[@]}"
}

"case_$CASE"
echo "PASS [$CASE]"
