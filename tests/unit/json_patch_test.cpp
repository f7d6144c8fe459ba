#include "json_patch.h"

#include <nlohmann/json.hpp>

#include "catch.h"
#include "test_support.h"

using minicpm::evaluate_json_patch;
using minicpm::Patch;
using minicpm::PatchState;
using minicpm::TextEvaluation;
using minicpm::test::fixture;
using nlohmann::json;

namespace {

const Patch& modules_patch() {
  static const Patch patch = [] {
    auto recipe = minicpm::resolve_recipe("minicpm-o-4_5-awq");
    for (const Patch& candidate : recipe->patches) {
      if (candidate.id == "awq-modules-not-converted") return candidate;
    }
    throw std::runtime_error("no awq-modules-not-converted patch");
  }();
  return patch;
}

TextEvaluation evaluate(const std::string& text) {
  return evaluate_json_patch(modules_patch(), text, "config.json");
}

const json kModules = {"vpm", "resampler", "apm", "audio_projection_layer", "audio_avg_pooler",
                       "tts", "llm.model.embed_tokens", "llm.lm_head", "llm.model.norm"};

// Checks that before and after differ only where `null` stood, and returns the new value text.
std::string replaced_span(const std::string& before, const std::string& after) {
  size_t at = before.find("\"modules_to_not_convert\"");
  REQUIRE(at != std::string::npos);
  size_t value = before.find("null", at);
  REQUIRE(value != std::string::npos);
  std::string suffix = before.substr(value + 4);
  REQUIRE(after.compare(0, value, before, 0, value) == 0);
  REQUIRE(after.size() > suffix.size());
  REQUIRE(after.compare(after.size() - suffix.size(), suffix.size(), suffix) == 0);
  return after.substr(value, after.size() - suffix.size() - value);
}

void check_patched(const std::string& fixture_name, const std::string& expected_value) {
  std::string before = fixture("config/" + fixture_name);
  TextEvaluation result = evaluate(before);
  REQUIRE(result.state == PatchState::pending);
  CHECK(replaced_span(before, result.patched_text) == expected_value);
  CHECK(json::parse(result.patched_text)["quantization_config"]["modules_to_not_convert"] ==
        kModules);
  CHECK(evaluate(result.patched_text).state == PatchState::applied);
}

}  // namespace

TEST_CASE("sorted 2-space config gets one item per line") {
  check_patched("sorted2.json",
                "[\n      \"vpm\",\n      \"resampler\",\n      \"apm\",\n"
                "      \"audio_projection_layer\",\n      \"audio_avg_pooler\",\n      \"tts\",\n"
                "      \"llm.model.embed_tokens\",\n      \"llm.lm_head\",\n"
                "      \"llm.model.norm\"\n    ]");
}

TEST_CASE("4-space config keeps its indent") {
  check_patched("indent4.json",
                "[\n            \"vpm\",\n            \"resampler\",\n            \"apm\",\n"
                "            \"audio_projection_layer\",\n            \"audio_avg_pooler\",\n"
                "            \"tts\",\n            \"llm.model.embed_tokens\",\n"
                "            \"llm.lm_head\",\n            \"llm.model.norm\"\n        ]");
}

TEST_CASE("compact config stays on one line") {
  check_patched("compact.json",
                "[\"vpm\", \"resampler\", \"apm\", \"audio_projection_layer\", "
                "\"audio_avg_pooler\", \"tts\", \"llm.model.embed_tokens\", \"llm.lm_head\", "
                "\"llm.model.norm\"]");
}

TEST_CASE("tight compact config has no spaces") {
  check_patched("compact_tight.json",
                "[\"vpm\",\"resampler\",\"apm\",\"audio_projection_layer\",\"audio_avg_pooler\","
                "\"tts\",\"llm.model.embed_tokens\",\"llm.lm_head\",\"llm.model.norm\"]");
}

TEST_CASE("CRLF config gets CRLF lines") {
  check_patched("crlf.json",
                "[\r\n      \"vpm\",\r\n      \"resampler\",\r\n      \"apm\",\r\n"
                "      \"audio_projection_layer\",\r\n      \"audio_avg_pooler\",\r\n"
                "      \"tts\",\r\n      \"llm.model.embed_tokens\",\r\n      \"llm.lm_head\",\r\n"
                "      \"llm.model.norm\"\r\n    ]");
}

TEST_CASE("config without trailing newline keeps it so") {
  std::string before = fixture("config/no_newline.json");
  REQUIRE(before.back() == '}');
  TextEvaluation result = evaluate(before);
  REQUIRE(result.state == PatchState::pending);
  CHECK(result.patched_text.back() == '}');
}

TEST_CASE("value already set is applied") {
  TextEvaluation result = evaluate(fixture("config/already_list.json"));
  CHECK(result.state == PatchState::applied);
}

TEST_CASE("unexpected string value is drifted") {
  TextEvaluation result = evaluate(fixture("config/unexpected_string.json"));
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail ==
        "config.json:40:31: quantization_config.modules_to_not_convert is \"vpm\", expected null "
        "(upstream) or the patched value");
}

TEST_CASE("missing key is drifted") {
  TextEvaluation result = evaluate(fixture("config/key_missing.json"));
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail ==
        "config.json:37:26: quantization_config.modules_to_not_convert is missing, expected it to "
        "be null");
}

TEST_CASE("invalid JSON names line and column") {
  TextEvaluation result = evaluate(fixture("config/invalid.json"));
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail == "config.json:6:3: invalid JSON: missing ',' or '}', expected ',' or '}'");
}

TEST_CASE("duplicate key on the path is drifted") {
  TextEvaluation result = evaluate(fixture("config/duplicate_key.json"));
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail ==
        "config.json:41:5: duplicate key quantization_config.modules_to_not_convert (2 times), "
        "expected it once");
}

TEST_CASE("parent that is not an object is drifted") {
  TextEvaluation result = evaluate("{\"quantization_config\": [1, 2]}\n");
  CHECK(result.state == PatchState::drifted);
  CHECK(result.detail ==
        "config.json:1:25: quantization_config is an array, expected an object holding "
        "\"modules_to_not_convert\"");
}

TEST_CASE("strict parser rejects JSON extensions") {
  for (const char* text : {"{\"a\": 1,}", "{'a': 1}", "{\"a\": 01}", "{\"a\": NaN}", "[1] [2]",
                           "{\"a\": \"\t\"}", "{\"a\": \"\\x\"}"}) {
    INFO(text);
    CHECK_FALSE(minicpm::parse_json_document(text, "x.json").ok());
  }
}

TEST_CASE("deep nesting is rejected") {
  std::string deep(300, '[');
  deep += std::string(300, ']');
  auto result = minicpm::parse_json_document(deep, "x.json");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message ==
        "x.json:1:258: invalid JSON: nesting deeper than 256 levels, expected a shallower document");
}
