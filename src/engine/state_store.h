// The tool's records inside a model folder, under ".minicpm-patches/": the original bytes of
// every patched file with their SHA-256, and what each directory copy created. revert reads
// them to restore the folder exactly.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "copy_directory.h"
#include "error.h"

namespace minicpm {

constexpr const char* kStateFolderName = ".minicpm-patches";

struct PatchedFileRecord {
  std::string original_sha256;
  std::string patched_sha256;
  std::string symlink_target;  // The link the file was before apply replaced it; often empty.
  std::vector<std::string> patch_ids;
};

struct FolderState {
  std::string recipe;  // Built-in recipe id or recipe file path used by the last apply.
  std::map<std::string, PatchedFileRecord> files;  // By path inside the model folder.
  std::map<std::string, CopyRecord> directories;   // By folder inside the model folder.

  bool empty() const { return files.empty() && directories.empty(); }
};

class StateStore {
 public:
  explicit StateStore(std::string model_dir);

  const std::string& folder() const { return folder_; }
  std::string original_path(
      const std::string& relative) const;  // Backup of a file's original bytes.
  std::string staging_dir() const;         // Temporary copies.
  std::string replaced_dir() const;        // Files a copy moved aside.

  // Loads the state; an absent state file gives an empty state.
  Result<FolderState> load() const;
  // Writes the state atomically, creating the state folder when needed. An empty state
  // removes the whole state folder.
  Status save(const FolderState& state) const;

 private:
  std::string folder_;
  std::string state_file_;
};

}  // namespace minicpm
