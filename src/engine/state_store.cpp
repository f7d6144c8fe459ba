#include "state_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "file_io.h"

namespace minicpm {
namespace {

using nlohmann::json;

json to_json(const FolderState& state) {
  json document = {{"format", 1},
                   {"recipe", state.recipe},
                   {"files", json::object()},
                   {"directories", json::object()}};
  for (const auto& [path, record] : state.files) {
    document["files"][path] = {{"original_sha256", record.original_sha256},
                               {"patched_sha256", record.patched_sha256},
                               {"symlink_target", record.symlink_target},
                               {"patches", record.patch_ids}};
  }
  for (const auto& [path, record] : state.directories) {
    document["directories"][path] = {{"created_directory", record.created_directory},
                                     {"files", record.files},
                                     {"replaced", record.replaced},
                                     {"folders", record.folders}};
  }
  return document;
}

}  // namespace

StateStore::StateStore(std::string model_dir)
    : folder_(join_path(model_dir, kStateFolderName)),
      state_file_(join_path(folder_, "state.json")) {}

std::string StateStore::original_path(const std::string& relative) const {
  return join_path(join_path(folder_, "originals"), relative);
}

std::string StateStore::staging_dir() const { return join_path(folder_, "staging"); }

std::string StateStore::replaced_dir() const { return join_path(folder_, "replaced"); }

Result<FolderState> StateStore::load() const {
  FolderState state;
  struct stat info {};
  if (::stat(state_file_.c_str(), &info) != 0) return state;

  Result<std::string> text = read_text_file(state_file_);
  if (!text) return text.error();
  try {
    json document = json::parse(*text);
    if (document.at("format").get<int>() != 1) {
      return apply_error(state_file_ + ": unknown format " + document.at("format").dump() +
                         ", expected 1; a newer minicpm-patch wrote it");
    }
    state.recipe = document.value("recipe", "");
    for (const auto& [path, entry] : document.at("files").items()) {
      PatchedFileRecord record;
      record.original_sha256 = entry.at("original_sha256").get<std::string>();
      record.patched_sha256 = entry.at("patched_sha256").get<std::string>();
      record.symlink_target = entry.at("symlink_target").get<std::string>();
      record.patch_ids = entry.at("patches").get<std::vector<std::string>>();
      state.files[path] = record;
    }
    for (const auto& [path, entry] : document.at("directories").items()) {
      CopyRecord record;
      record.created_directory = entry.at("created_directory").get<bool>();
      record.files = entry.at("files").get<std::vector<std::string>>();
      record.replaced = entry.at("replaced").get<std::vector<std::string>>();
      record.folders = entry.at("folders").get<std::vector<std::string>>();
      state.directories[path] = record;
    }
  } catch (const json::exception& error) {
    return apply_error(state_file_ + ": invalid state file (" + std::string(error.what()) +
                       "), expected the JSON that minicpm-patch writes");
  }
  return state;
}

Status StateStore::save(const FolderState& state) const {
  if (state.empty()) {
    // Nothing left to restore: the folder holds only the tool's own files.
    std::error_code error;
    std::filesystem::remove_all(folder_, error);
    if (error) return io_error(folder_ + ": cannot remove: " + error.message());
    return Done{};
  }
  Status created = make_directories(folder_);
  if (!created) return created;
  return write_file_atomic(state_file_, to_json(state).dump(2) + "\n", 0644);
}

}  // namespace minicpm
