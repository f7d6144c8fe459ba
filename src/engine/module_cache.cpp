#include "module_cache.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "file_io.h"

namespace minicpm {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string escaped_module_name(const std::string& name) {
  std::string escaped;
  for (char c : name) {
    if (c == '-') {
      escaped += "_hyphen_";
    } else if (c == '.') {
      escaped += "_dot_";
    } else {
      escaped.push_back(c);
    }
  }
  return escaped;
}

bool is_regular_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::vector<std::string> subfolders(const std::string& folder) {
  std::vector<std::string> found;
  DIR* directory = ::opendir(folder.c_str());
  if (directory == nullptr) return found;
  while (dirent* entry = ::readdir(directory)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string path = join_path(folder, name);
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) found.push_back(path);
  }
  ::closedir(directory);
  return found;
}

}  // namespace

std::string modules_cache_dir() {
  std::string modules = env_or_empty("HF_MODULES_CACHE");
  if (!modules.empty()) return modules;
  std::string home = env_or_empty("HF_HOME");
  if (!home.empty()) return join_path(home, "modules");
  std::string user_home = env_or_empty("HOME");
  if (user_home.empty()) return "";
  return join_path(user_home, ".cache/huggingface/modules");
}

std::vector<StaleCopy> find_stale_copies(const std::string& model_dir,
                                         const std::vector<std::string>& files) {
  std::vector<StaleCopy> stale;
  std::string cache = modules_cache_dir();
  if (cache.empty()) return stale;
  std::string modules = join_path(cache, "transformers_modules");
  std::string name = base_name(model_dir);

  std::set<std::string> folders;
  for (const std::string& candidate : {name, escaped_module_name(name)}) {
    std::string folder = join_path(modules, candidate);
    folders.insert(folder);
    for (const std::string& hashed : subfolders(folder)) folders.insert(hashed);
  }
  for (const std::string& file : files) {
    std::optional<std::string> model_bytes;  // Read only when a copy exists.
    for (const std::string& folder : folders) {
      std::string copy = join_path(folder, file);
      if (!is_regular_file(copy)) continue;
      if (!model_bytes) {
        Result<std::string> read = read_text_file(join_path(model_dir, file));
        if (!read) break;
        model_bytes = std::move(*read);
      }
      Result<std::string> copy_bytes = read_text_file(copy);
      if (!copy_bytes || *copy_bytes != *model_bytes)
        stale.push_back({copy, join_path(model_dir, file)});
    }
  }
  return stale;
}

Result<std::vector<std::string>> refresh_stale_copies(const std::vector<StaleCopy>& copies) {
  std::vector<std::string> done;
  for (const StaleCopy& copy : copies) {
    Result<std::string> bytes = read_text_file(copy.model_file);
    if (!bytes) return bytes.error();
    Status written = write_file_atomic(copy.copy_path, *bytes, 0644);
    if (!written) return written.error();
    done.push_back("refreshed " + copy.copy_path + " from " + copy.model_file);
  }
  return done;
}

std::vector<std::string> hub_auto_map_warnings(const std::string& model_dir) {
  std::vector<std::string> warnings;
  std::string path = join_path(model_dir, "config.json");
  if (!is_regular_file(path)) return warnings;
  Result<std::string> text = read_text_file(path);
  if (!text) return warnings;
  nlohmann::json config = nlohmann::json::parse(*text, nullptr, false);
  if (!config.is_object() || !config.contains("auto_map") || !config["auto_map"].is_object())
    return warnings;

  for (const auto& [key, value] : config["auto_map"].items()) {
    std::vector<std::string> references;
    if (value.is_string()) references.push_back(value.get<std::string>());
    if (value.is_array()) {
      for (const auto& item : value) {
        if (item.is_string()) references.push_back(item.get<std::string>());
      }
    }
    for (const std::string& reference : references) {
      if (reference.find("--") == std::string::npos) continue;
      warnings.push_back(
          path + ": auto_map." + key + " is \"" + reference +
          "\", so transformers loads that Hub repository's code and ignores the patched local "
          "files; expected a local reference such as \"" +
          reference.substr(reference.find("--") + 2) + "\"");
    }
  }
  return warnings;
}

}  // namespace minicpm
