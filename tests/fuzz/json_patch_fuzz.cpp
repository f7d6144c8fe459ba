// libFuzzer target: the strict JSON parser and the modules_to_not_convert edit on arbitrary
// bytes. Besides crashes, it checks that a pending edit yields a file in which the patch is
// applied.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "json_patch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)minicpm::parse_json_document(text, "fuzz.json");

  static const minicpm::Recipe recipe = *minicpm::resolve_recipe("minicpm-o-4_5-awq");
  for (const minicpm::Patch& patch : recipe.patches) {
    if (!std::holds_alternative<minicpm::JsonValuePatch>(patch.action)) continue;
    minicpm::TextEvaluation first = minicpm::evaluate_json_patch(patch, text, "fuzz.json");
    if (first.state != minicpm::PatchState::pending) continue;
    minicpm::TextEvaluation second = minicpm::evaluate_json_patch(patch, first.patched_text, "fuzz.json");
    if (second.state != minicpm::PatchState::applied) std::abort();
  }
  return 0;
}
