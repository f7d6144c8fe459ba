// The commands of minicpm-patch over one model folder: status, apply, verify, diff and
// revert. They return reports and errors; only the CLI prints.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "error.h"
#include "module_cache.h"
#include "patch_state.h"
#include "recipe.h"

namespace minicpm {

struct Options {
  std::string model_dir;
  std::string recipe;                  // Built-in id or recipe file; empty detects it.
  std::vector<std::string> only;       // Patch ids; empty selects every patch of the recipe.
  std::string assets_from;             // Source model folder for directory copies.
  bool hard_link = false;              // --link: hard links in place of copies.
  bool deep = false;                   // --deep: compare SHA-256 digests of copied files.
  bool refresh_modules_cache = false;  // --refresh-modules-cache: overwrite stale copies.
  std::function<void(uint64_t done, uint64_t total)> progress;  // Copy progress, optional.
};

struct PatchReport {
  std::string patch_id;
  std::string file;
  PatchState state = PatchState::drifted;
  std::string detail;
};

struct Report {
  std::string recipe_id;
  std::vector<PatchReport> patches;
  std::vector<std::string> notes;     // Facts worth telling, such as a source folder chosen.
  std::vector<std::string> warnings;  // Problems that patching cannot fix, such as Hub auto_map.
  // Copies in the transformers modules cache that differ from the model folder's files.
  std::vector<StaleCopy> stale_copies;
  std::vector<std::string> actions;  // Changes made by apply or revert, one line each.
  std::string diff;                  // The unified diff, for the diff command.
};

// Returns true when every patch is applied or upstream-fixed and no stale copy of a patched
// file is in the transformers modules cache.
bool all_verified(const Report& report);

Result<Report> run_status(const Options& options);
// All-or-nothing: a drifted patch or a missing source fails before anything is written.
Result<Report> run_apply(const Options& options);
// Returns the report; the caller fails unless all_verified(report).
Result<Report> run_verify(const Options& options);
Result<Report> run_diff(const Options& options);
// Restores the original bytes of every patched file and removes what copies created.
Result<Report> run_revert(const Options& options);

// Picks the built-in recipe whose detection rule matches the model folder.
Result<Recipe> detect_recipe(const std::string& model_dir);

}  // namespace minicpm
