// Python insertion patches: locate a call inside a named function by structure and insert
// lines after the function-body statement that contains it, or before the statement itself.
#pragma once

#include <string>
#include <string_view>

#include "patch_state.h"
#include "python_scanner.h"
#include "recipe.h"

namespace minicpm {

// Decides the patch's state for text and, when pending, builds the patched text.
// file_label names the file in the details ("<file>:<line>: ...").
TextEvaluation evaluate_python_patch(const Patch& patch, std::string_view text,
                                     const std::string& file_label);

// The same for text that scan_python already tokenized (or failed to), so that several
// patches of one file share one scan.
TextEvaluation evaluate_python_patch(const Patch& patch, const Result<PythonSource>& scanned,
                                     std::string_view text, const std::string& file_label);

}  // namespace minicpm
