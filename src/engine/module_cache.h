// Checks that transformers will load the patched code: stale copies of a model's Python
// files in its modules cache, and config.json auto_map entries that name Hub code.
#pragma once

#include <string>
#include <vector>

#include "error.h"

namespace minicpm {

// A copy of a model file in the transformers modules cache whose bytes differ from the file
// in the model folder.
struct StaleCopy {
  std::string copy_path;
  std::string model_file;
};

// The modules cache folder: $HF_MODULES_CACHE, else $HF_HOME/modules, else
// ~/.cache/huggingface/modules.
std::string modules_cache_dir();

// Finds copies of model_dir/<file> for each file under
// <cache>/transformers_modules/<folder name>/ and its content-hash subfolders, with the
// folder name as it is and with '-' and '.' escaped as "_hyphen_" and "_dot_".
std::vector<StaleCopy> find_stale_copies(const std::string& model_dir,
                                         const std::vector<std::string>& files);

// Overwrites each stale copy with the model folder's file. Returns one line per copy.
Result<std::vector<std::string>> refresh_stale_copies(const std::vector<StaleCopy>& copies);

// Returns a warning for each auto_map entry of config.json of the form "org/repo--module.Class",
// which makes transformers load that repository's code in place of the local files.
std::vector<std::string> hub_auto_map_warnings(const std::string& model_dir);

}  // namespace minicpm
