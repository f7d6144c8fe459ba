// Directory copy patches: bring a folder (the TTS assets) from another model folder.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "error.h"
#include "patch_state.h"
#include "recipe.h"

namespace minicpm {

enum class CopyMode { copy, hard_link };

struct CopyFileEntry {
  std::string relative_path;  // Inside the copied folder.
  std::string source_path;    // Resolved path of the bytes to copy.
  uint64_t size = 0;
};

// State of a directory patch, with the files to copy from its source.
struct CopyPlan {
  PatchState state = PatchState::pending;
  std::string detail;
  std::string target_dir;                      // <model>/<directory>
  std::string source_model_dir;                // Empty when no source is known.
  std::vector<CopyFileEntry> source_files;     // Every regular file of the source folder.
  std::vector<CopyFileEntry> to_copy;          // Missing in the target, or different.
  std::vector<std::string> missing_in_source;  // Required paths the source lacks.
  uint64_t bytes_to_copy = 0;
  bool target_exists = false;
};

// Decides the state of the directory patch. source_model_dir may be empty (no source known);
// deep compares SHA-256 digests as well as sizes. Fails for an unreadable source or a source
// symlink that points outside the source folder.
Result<CopyPlan> plan_copy_directory(const Patch& patch, const std::string& model_dir,
                                     const std::string& source_model_dir, bool deep);

// Called after each copied file and during long copies: bytes done and bytes in all.
using CopyProgress = std::function<void(uint64_t done, uint64_t total)>;

// Records what a copy created, so that revert removes only that.
struct CopyRecord {
  bool created_directory = false;
  std::vector<std::string> files;     // Copied files, relative to the target folder.
  std::vector<std::string> replaced;  // Files that differed and were moved aside.
  std::vector<std::string> folders;   // Folders created inside an existing target.
};

// Performs the plan. staging_dir is an existing folder inside the model folder (same file
// system) for temporary copies. before_commit(record) is called before each rename that
// makes a copy visible, so the caller can store the record first.
Status run_copy_plan(const CopyPlan& plan, const std::string& staging_dir,
                     const std::string& replaced_dir, CopyMode mode, CopyRecord& record,
                     const std::function<Status(const CopyRecord&)>& before_commit,
                     const CopyProgress& progress);

// Removes the files that record lists as copied and moves back the files it moved aside.
Status undo_copy(const std::string& target_dir, const std::string& replaced_dir,
                 const CopyRecord& record);

// Copies one file's bytes: a reflink clone where the file system supports it, else
// copy_file_range, else a buffered copy with a fixed 1 MiB buffer.
Status copy_file_contents(const std::string& source, const std::string& destination,
                          const CopyProgress& progress, uint64_t done_before, uint64_t total);

}  // namespace minicpm
