// The states of a patch, decided from the model folder's content alone.
#pragma once

#include <string>

namespace minicpm {

enum class PatchState {
  applied,         // Our change is present, intact, in the located place.
  pending,         // The anchor is found and the change is not there yet.
  upstream_fixed,  // The file already contains an equivalent fix without our marker.
  drifted,         // The anchor is missing or ambiguous, or our change was edited.
};

inline const char* to_string(PatchState state) {
  switch (state) {
    case PatchState::applied:
      return "applied";
    case PatchState::pending:
      return "pending";
    case PatchState::upstream_fixed:
      return "upstream-fixed";
    case PatchState::drifted:
      return "drifted";
  }
  return "unknown";
}

// The outcome of checking one text patch against one file's text.
struct TextEvaluation {
  PatchState state = PatchState::drifted;
  std::string detail;        // For drifted: "<file>:<line>: what is wrong, expected what".
  std::string patched_text;  // For pending: the whole file with the patch applied.
};

}  // namespace minicpm
