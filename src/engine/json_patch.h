// JSON value patches: replace one value in a JSON file with a minimal edit, so that every
// byte outside the replaced value stays as it was.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "patch_state.h"
#include "recipe.h"

namespace minicpm {

// A parsed JSON value with the byte range it covers in the source text.
struct JsonNode {
  enum class Type { object, array, string, number, boolean, null };
  Type type = Type::null;
  size_t begin = 0;              // Offset of the value's first byte.
  size_t end = 0;                // Offset just past it.
  std::string key;               // Member name, when the parent is an object.
  size_t key_begin = 0;          // Offset of the member name's opening quote.
  std::vector<size_t> children;  // Indexes into JsonDocument::nodes.
};

struct JsonDocument {
  std::vector<JsonNode> nodes;  // nodes[0] is the root.
};

// Parses text as strict JSON (RFC 8259). Errors read "<file>:<line>:<column>: ...".
Result<JsonDocument> parse_json_document(std::string_view text, const std::string& file_label);

// Decides the patch's state for text and, when pending, builds the patched text.
TextEvaluation evaluate_json_patch(const Patch& patch, std::string_view text,
                                   const std::string& file_label);

}  // namespace minicpm
