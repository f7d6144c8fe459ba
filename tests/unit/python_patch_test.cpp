#include "python_patch.h"

#include <deque>

#include "catch.h"
#include "test_support.h"

using minicpm::evaluate_python_patch;
using minicpm::Patch;
using minicpm::PatchState;
using minicpm::TextEvaluation;
using minicpm::test::count_of;
using minicpm::test::fixture;
using minicpm::test::replace_once;

namespace {

const Patch& builtin_patch(const std::string& id) {
  auto recipe = minicpm::resolve_recipe("minicpm-o-4_5");
  REQUIRE(recipe.ok());
  static std::deque<Patch> found_patches;  // A deque keeps earlier references valid.
  for (const Patch& patch : recipe->patches) {
    if (patch.id == id) {
      found_patches.push_back(patch);
      return found_patches.back();
    }
  }
  FAIL("no patch " + id);
  throw;
}

const Patch& stream_return() { return builtin_patch("chat-stream-return"); }
const Patch& single_beam() { return builtin_patch("chat-stream-single-beam"); }

TextEvaluation evaluate(const Patch& patch, const std::string& text) {
  return evaluate_python_patch(patch, text, "m.py");
}

// Applies both chat() patches in recipe order.
std::string apply_both(const std::string& text) {
  TextEvaluation first = evaluate(single_beam(), text);
  REQUIRE(first.state == PatchState::pending);
  TextEvaluation second = evaluate(stream_return(), first.patched_text);
  REQUIRE(second.state == PatchState::pending);
  return second.patched_text;
}

const std::string kSample = "sample/MiniCPM-o-4_5/modeling_minicpmo.py";

}  // namespace

TEST_CASE("stream return goes after the with block") {
  std::string original = fixture(kSample);
  TextEvaluation result = evaluate(stream_return(), original);
  REQUIRE(result.state == PatchState::pending);
  CHECK(result.detail == "m.py:444: inserts 3 lines");

  std::string expected_block =
      "                **generation_config,\n"
      "            )\n"
      "        # PATCH: chat-stream-return: return the streamer; stream=True has no sequences for TTS\n"
      "        if stream:\n"
      "            return res\n"
      "\n";
  CHECK(count_of(result.patched_text, expected_block) == 1);
  std::string inserted =
      "        # PATCH: chat-stream-return: return the streamer; stream=True has no sequences for TTS\n"
      "        if stream:\n"
      "            return res\n";
  CHECK(result.patched_text.size() == original.size() + inserted.size());
}

TEST_CASE("single beam goes before prepare_generation_config") {
  std::string original = fixture(kSample);
  TextEvaluation result = evaluate(single_beam(), original);
  REQUIRE(result.state == PatchState::pending);
  std::string expected =
      "        # PATCH: chat-stream-single-beam: stream with one beam; beam search never feeds the "
      "streamer\n"
      "        if stream:\n"
      "            kwargs[\"num_beams\"] = 1\n"
      "        generation_config = self.prepare_generation_config(\n";
  CHECK(count_of(result.patched_text, expected) == 1);
}

TEST_CASE("patch keeps every other byte") {
  std::string original = fixture(kSample);
  std::string patched = apply_both(original);
  // Removing the inserted lines gives back the original bytes.
  std::string restored = patched;
  for (std::string id : {"chat-stream-single-beam", "chat-stream-return"}) {
    size_t marker = restored.find("        # PATCH: " + std::string(id));
    REQUIRE(marker != std::string::npos);
    size_t end = marker;
    for (int line = 0; line < 3; ++line) end = restored.find('\n', end) + 1;
    restored.erase(marker, end - marker);
  }
  CHECK(restored == original);
}

TEST_CASE("applied patches are recognised") {
  std::string patched = apply_both(fixture(kSample));
  CHECK(evaluate(stream_return(), patched).state == PatchState::applied);
  CHECK(evaluate(single_beam(), patched).state == PatchState::applied);
}

TEST_CASE("edited block is drifted") {
  std::string patched = apply_both(fixture(kSample));
  std::string edited = replace_once(patched, "            return res\n", "            return None\n");
  TextEvaluation result = evaluate(stream_return(), edited);
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail ==
        "m.py:447: the block after the marker of chat-stream-return was edited, expected the lines "
        "that apply writes; run revert or restore the file");
}

TEST_CASE("doubled block is drifted") {
  std::string patched = apply_both(fixture(kSample));
  std::string block =
      "        # PATCH: chat-stream-return: return the streamer; stream=True has no sequences for "
      "TTS\n        if stream:\n            return res\n";
  std::string doubled = replace_once(patched, block, block + block);
  TextEvaluation result = evaluate(stream_return(), doubled);
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail.find("appears 2 times") != std::string::npos);
}

TEST_CASE("marker elsewhere is drifted") {
  std::string original = fixture(kSample);
  std::string moved = replace_once(original, "        # Find the speaker",
                                   "        # PATCH: chat-stream-return: moved by hand\n"
                                   "        # Find the speaker");
  TextEvaluation result = evaluate(stream_return(), moved);
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail.find("is not in the located place, expected it at line 444") != std::string::npos);
}

TEST_CASE("marker inside a string is not a marker") {
  TextEvaluation result = evaluate(stream_return(), fixture("modeling/decoy_marker.py"));
  CHECK(result.state == PatchState::pending);
  CHECK(evaluate(single_beam(), fixture("modeling/decoy_marker.py")).state == PatchState::pending);
}

TEST_CASE("upstream revision is upstream-fixed") {
  std::string upstream = fixture("modeling/upstream_fixed.py");
  CHECK(evaluate(stream_return(), upstream).state == PatchState::upstream_fixed);
  CHECK(evaluate(single_beam(), upstream).state == PatchState::upstream_fixed);
}

TEST_CASE("2.6 chat is upstream-fixed") {
  std::string old_model = fixture("modeling/minicpmv_2_6.py");
  CHECK(evaluate(stream_return(), old_model).state == PatchState::upstream_fixed);
  CHECK(evaluate(single_beam(), old_model).state == PatchState::upstream_fixed);
}

TEST_CASE("partial manual fix leaves single beam pending") {
  // The stream return written by hand, upstream style, does not fix the beam default.
  std::string original = fixture(kSample);
  std::string manual = replace_once(original, "            )\n\n        # Find the speaker",
                                    "            )\n\n        if stream:\n            return res\n\n"
                                    "        # Find the speaker");
  CHECK(evaluate(stream_return(), manual).state == PatchState::upstream_fixed);
  CHECK(evaluate(single_beam(), manual).state == PatchState::pending);
}

TEST_CASE("CRLF file gets CRLF lines") {
  TextEvaluation result = evaluate(stream_return(), fixture("modeling/crlf.py"));
  REQUIRE(result.state == PatchState::pending);
  CHECK(count_of(result.patched_text, "        if stream:\r\n            return res\r\n") == 1);
  CHECK(count_of(result.patched_text, "\n") == count_of(result.patched_text, "\r\n"));
}

TEST_CASE("tab-indented file gets tabs") {
  TextEvaluation result = evaluate(stream_return(), fixture("modeling/tabs.py"));
  REQUIRE(result.state == PatchState::pending);
  CHECK(count_of(result.patched_text, "\n\t\t# PATCH: chat-stream-return") == 1);
  CHECK(count_of(result.patched_text, "\n\t\tif stream:\n\t\t\treturn res\n") == 1);
}

TEST_CASE("comments with brackets in the call") {
  TextEvaluation result = evaluate(stream_return(), fixture("modeling/brackets_in_comments.py"));
  REQUIRE(result.state == PatchState::pending);
  CHECK(evaluate(stream_return(), result.patched_text).state == PatchState::applied);
}

TEST_CASE("nested function call is not chat's") {
  TextEvaluation result = evaluate(stream_return(), fixture("modeling/nested_def.py"));
  CHECK(result.state == PatchState::pending);
}

TEST_CASE("fork with unrelated edits stays pending") {
  CHECK(evaluate(stream_return(), fixture("modeling/fork_edits.py")).state == PatchState::pending);
  CHECK(evaluate(single_beam(), fixture("modeling/fork_edits.py")).state == PatchState::pending);
}

TEST_CASE("two generate calls are drifted") {
  TextEvaluation result = evaluate(stream_return(), fixture("modeling/two_generate_calls.py"));
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail ==
        "m.py:436: self.generate( is called 2 times in chat() (lines 436, 455), expected exactly "
        "one call");
}

TEST_CASE("missing chat is drifted") {
  TextEvaluation result = evaluate(stream_return(), fixture("modeling/no_chat.py"));
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail == "m.py: no function chat() found, expected exactly one");
}

TEST_CASE("class name picks one of two chat methods") {
  std::string refactored = fixture("modeling/refactored.py");
  TextEvaluation ambiguous = evaluate(stream_return(), refactored);
  CHECK(ambiguous.state == PatchState::drifted);
  CHECK(ambiguous.detail.find("chat() is defined 2 times (lines 296, 594)") != std::string::npos);

  Patch in_class = stream_return();
  std::get<minicpm::PythonInsertPatch>(in_class.action).class_name = "MiniCPMO";
  TextEvaluation located = evaluate(in_class, refactored);
  CHECK(located.state == PatchState::pending);
}

TEST_CASE("unassigned call result is drifted") {
  std::string original = fixture(kSample);
  std::string unassigned = replace_once(original, "res, outputs = self.generate(", "self.generate(");
  TextEvaluation result = evaluate(stream_return(), unassigned);
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail.find("is not assigned to a name") != std::string::npos);
}

TEST_CASE("unparsable file is drifted with its line") {
  std::string original = fixture(kSample);
  std::string broken = original + "x = 'never closed\n";
  TextEvaluation result = evaluate(stream_return(), broken);
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail == "m.py:526: unterminated string literal, expected a closing '");
}
