// Unified diffs of two versions of a text file, as `diff -u` prints them.
#pragma once

#include <string>
#include <string_view>

namespace minicpm {

// Returns the unified diff (3 lines of context) from before to after, with the headers
// "--- a/<name>" and "+++ b/<name>". Returns an empty string when the texts are equal.
std::string unified_diff(std::string_view before, std::string_view after, const std::string& name);

}  // namespace minicpm
