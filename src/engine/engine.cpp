#include "engine.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "copy_directory.h"
#include "file_io.h"
#include "json_patch.h"
#include "python_patch.h"
#include "sha256.h"
#include "state_store.h"
#include "unified_diff.h"

namespace minicpm {
namespace {

using nlohmann::json;

// One text file that selected patches change, read once and patched in memory.
struct TextFileWork {
  std::string relative;
  std::string path;
  std::string original;
  std::string patched;
  std::string symlink_target;  // Set when the file is a symlink (into a Hub cache's blobs/).
  std::optional<std::string> problem;  // Why the file cannot be patched: missing, unreadable.
  std::vector<std::string> patch_ids;
};

struct Evaluation {
  Recipe recipe;
  Report report;
  std::vector<TextFileWork> files;
  std::optional<Patch> copy_patch;  // A copy: the recipe's patches move with the Evaluation.
  std::optional<CopyPlan> copy_plan;
};

bool is_folder(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

Status check_model_dir(const std::string& model_dir) {
  if (model_dir.empty())
    return usage_error("no model folder given, expected minicpm-patch <command> <model-dir>");
  struct stat info {};
  if (::stat(model_dir.c_str(), &info) != 0) {
    return usage_error(model_dir + ": model folder not found, expected an existing folder");
  }
  if (!S_ISDIR(info.st_mode))
    return usage_error(model_dir + ": not a folder, expected a model folder");
  return Done{};
}

// A symlink in the model folder may point inside it, or, for a Hub cache snapshot, into the
// cache's blobs/ folder. Returns the link's text when path is an allowed symlink.
Result<std::string> check_symlink(const std::string& model_dir, const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) return std::string();
  std::optional<std::string> model_real = real_path(model_dir);
  std::optional<std::string> target = real_path(path);
  if (!model_real || !target) return apply_error(path + ": broken symlink, expected a file");
  std::string snapshots = parent_of(*model_real);
  std::string blobs = parent_of(snapshots) + "/blobs";
  bool allowed = is_inside(*target, *model_real) ||
                 (base_name(snapshots) == "snapshots" && is_inside(*target, blobs));
  if (!allowed) {
    return apply_error(path + ": symlink points outside the model folder (to " + *target +
                       "), expected a file inside it or in the Hub cache's blobs/");
  }
  std::string link(static_cast<size_t>(info.st_size) + 1, '\0');
  ssize_t size = ::readlink(path.c_str(), link.data(), link.size());
  if (size < 0) return io_error(path + ": cannot read the symlink: " + std::strerror(errno));
  link.resize(static_cast<size_t>(size));
  return link;
}

Result<json> config_value(const std::string& model_dir, const std::vector<std::string>& path) {
  std::string config_path = join_path(model_dir, "config.json");
  struct stat info {};
  if (::stat(config_path.c_str(), &info) != 0) return json();
  Result<std::string> text = read_text_file(config_path);
  if (!text) return text.error();
  Result<JsonDocument> checked = parse_json_document(*text, config_path);
  if (!checked) return checked.error();
  json document = json::parse(*text);
  const json* node = &document;
  for (const std::string& key : path) {
    if (!node->is_object() || !node->contains(key)) return json();
    node = &node->at(key);
  }
  return *node;
}

Result<Recipe> choose_recipe(const Options& options) {
  if (!options.recipe.empty()) return resolve_recipe(options.recipe);
  return detect_recipe(options.model_dir);
}

Result<std::vector<const Patch*>> select_patches(const Recipe& recipe,
                                                 const std::vector<std::string>& only) {
  std::vector<const Patch*> selected;
  for (const std::string& id : only) {
    bool known = std::any_of(recipe.patches.begin(), recipe.patches.end(),
                             [&](const Patch& patch) { return patch.id == id; });
    if (!known) {
      std::string ids;
      for (const Patch& patch : recipe.patches) ids += (ids.empty() ? "" : ", ") + patch.id;
      return usage_error("--only " + id + ": no such patch in recipe " + recipe.id +
                         ", expected one of: " + ids);
    }
  }
  for (const Patch& patch : recipe.patches) {
    if (only.empty() || std::find(only.begin(), only.end(), patch.id) != only.end())
      selected.push_back(&patch);
  }
  return selected;
}

// The source model folder for a directory copy: --assets-from, else a sibling folder named
// like the model folder without the recipe's suffix ("-awq").
Result<std::string> copy_source(const Options& options, const CopyDirectoryPatch& copy,
                                Report& report) {
  if (!options.assets_from.empty()) {
    if (!is_folder(options.assets_from)) {
      return usage_error("--assets-from " + options.assets_from +
                         ": folder not found, expected the BF16 model folder");
    }
    return options.assets_from;
  }
  std::string name = base_name(options.model_dir);
  const std::string& suffix = copy.source_suffix;
  if (suffix.empty() || name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::string();
  }
  std::string sibling =
      join_path(parent_of(options.model_dir), name.substr(0, name.size() - suffix.size()));
  if (!is_folder(sibling)) return std::string();
  report.notes.push_back("using " + sibling + " as the source of " + copy.directory +
                         "/ (sibling folder; pass --assets-from to choose another)");
  return sibling;
}

TextEvaluation evaluate_text_patch(const Patch& patch, std::string_view text,
                                   const std::string& path) {
  if (std::holds_alternative<PythonInsertPatch>(patch.action)) {
    return evaluate_python_patch(patch, text, path);
  }
  return evaluate_json_patch(patch, text, path);
}

Result<Evaluation> evaluate(const Options& options, bool deep) {
  Status valid = check_model_dir(options.model_dir);
  if (!valid) return valid.error();
  Result<Recipe> recipe = choose_recipe(options);
  if (!recipe) return recipe.error();
  Result<std::vector<const Patch*>> selected = select_patches(*recipe, options.only);
  if (!selected) return selected.error();

  Evaluation evaluation;
  evaluation.recipe = *recipe;
  evaluation.report.recipe_id = recipe->id;
  Report& report = evaluation.report;

  std::map<std::string, size_t> file_index;
  evaluation.files.reserve(selected->size());  // No reallocation while scans view the texts.
  // One scan of each file's original text, shared by its Python patches.
  std::map<size_t, Result<PythonSource>> original_scans;
  for (const Patch* patch : *selected) {
    if (std::holds_alternative<CopyDirectoryPatch>(patch->action)) {
      const auto& copy = std::get<CopyDirectoryPatch>(patch->action);
      Result<std::string> source = copy_source(options, copy, report);
      if (!source) return source.error();
      Result<CopyPlan> plan = plan_copy_directory(*patch, options.model_dir, *source, deep);
      if (!plan) return plan.error();
      evaluation.copy_patch = *patch;
      evaluation.copy_plan = *plan;
      report.patches.push_back({patch->id, patch->file, plan->state, plan->detail});
      continue;
    }

    std::string path = join_path(options.model_dir, patch->file);
    auto found = file_index.find(patch->file);
    if (found == file_index.end()) {
      TextFileWork work;
      work.relative = patch->file;
      work.path = path;
      evaluation.files.push_back(work);
      found = file_index.emplace(patch->file, evaluation.files.size() - 1).first;

      TextFileWork& file = evaluation.files.back();
      struct stat info {};
      if (::lstat(path.c_str(), &info) != 0) {
        file.problem = path + ": file not found, expected the model's " + patch->file;
      } else {
        Result<std::string> link = check_symlink(options.model_dir, path);
        Result<std::string> text = link ? read_text_file(path) : Result<std::string>(link.error());
        if (!text && text.error().kind == ErrorKind::io) return text.error();
        if (!text) {
          file.problem = text.error().message;
        } else {
          file.symlink_target = *link;
          file.original = file.patched = *text;
        }
      }
    }

    TextFileWork& file = evaluation.files[found->second];
    file.patch_ids.push_back(patch->id);
    if (file.problem) {
      report.patches.push_back({patch->id, patch->file, PatchState::drifted, *file.problem});
      continue;
    }
    // Report on the file as it is, so that line numbers match what the user sees; build the
    // patched text by applying each pending patch on top of the previous ones.
    TextEvaluation on_original;
    if (std::holds_alternative<PythonInsertPatch>(patch->action)) {
      auto scan = original_scans.find(found->second);
      if (scan == original_scans.end()) {
        scan = original_scans.emplace(found->second, scan_python(file.original, path)).first;
      }
      on_original = evaluate_python_patch(*patch, scan->second, file.original, path);
    } else {
      on_original = evaluate_json_patch(*patch, file.original, path);
    }
    if (on_original.state == PatchState::pending) {
      TextEvaluation on_patched = evaluate_text_patch(*patch, file.patched, path);
      if (on_patched.state != PatchState::pending) {
        on_original.state = PatchState::drifted;
        on_original.detail = path + ": " + patch->id +
                             " conflicts with an earlier patch of the recipe (" +
                             on_patched.detail + "), expected patches that touch different places";
      } else {
        file.patched = std::move(on_patched.patched_text);
      }
    }
    report.patches.push_back({patch->id, patch->file, on_original.state, on_original.detail});
  }

  std::vector<std::string> python_files;
  for (const Patch* patch : *selected) {
    bool is_python = std::holds_alternative<PythonInsertPatch>(patch->action);
    if (is_python &&
        std::find(python_files.begin(), python_files.end(), patch->file) == python_files.end()) {
      python_files.push_back(patch->file);
    }
  }
  report.stale_copies = find_stale_copies(options.model_dir, python_files);
  report.warnings = hub_auto_map_warnings(options.model_dir);
  return evaluation;
}

Error drift_error(const Report& report) {
  std::string message;
  for (const PatchReport& patch : report.patches) {
    if (patch.state != PatchState::drifted) continue;
    if (!message.empty()) message += "\n";
    message += patch.detail + " [" + patch.patch_id + "]";
  }
  return apply_error(
      message +
      "\nnothing was written; fix the files above, or leave those patches out with --only");
}

bool any_drifted(const Report& report) {
  return std::any_of(report.patches.begin(), report.patches.end(),
                     [](const PatchReport& patch) { return patch.state == PatchState::drifted; });
}

// Checks that a pending directory copy has a complete source, before anything is written.
Status check_copy_source(const Evaluation& evaluation) {
  if (!evaluation.copy_plan || evaluation.copy_plan->state != PatchState::pending) return Done{};
  const CopyPlan& plan = *evaluation.copy_plan;
  const auto& copy = std::get<CopyDirectoryPatch>(evaluation.copy_patch->action);
  std::string fetch = copy.fetch_command;
  std::string source = plan.source_model_dir.empty() ? "BF16_DIR" : plan.source_model_dir;
  for (size_t at = fetch.find("DIR"); at != std::string::npos;
       at = fetch.find("DIR", at + source.size())) {
    fetch.replace(at, 3, source);
  }
  if (plan.source_model_dir.empty()) {
    return usage_error(plan.target_dir + ": " + copy.directory +
                       "/ is missing and no source folder was found, expected " +
                       "--assets-from with the BF16 model folder; fetch it with: " + fetch);
  }
  if (!plan.missing_in_source.empty()) {
    std::string list;
    for (const std::string& missing : plan.missing_in_source)
      list += (list.empty() ? "" : ", ") + missing;
    return apply_error(join_path(plan.source_model_dir, copy.directory) + ": source is missing " +
                       list + ", expected every required file; fetch them with: " + fetch);
  }
  return Done{};
}

// Removes leftovers of an interrupted run: staged copies and temporary files.
void remove_leftovers(const StateStore& store, const Evaluation& evaluation) {
  std::error_code ignored;
  std::filesystem::remove_all(store.staging_dir(), ignored);
  std::vector<std::string> folders;
  for (const TextFileWork& file : evaluation.files) {
    folders.push_back(parent_of(file.path));
    folders.push_back(parent_of(store.original_path(file.relative)));
  }
  folders.push_back(store.folder());
  for (const std::string& folder : folders) {
    DIR* directory = ::opendir(folder.c_str());
    if (directory == nullptr) continue;
    std::vector<std::string> stale;
    while (dirent* entry = ::readdir(directory)) {
      if (std::strncmp(entry->d_name, ".minicpm-patch.tmp.", 19) == 0)
        stale.push_back(join_path(folder, entry->d_name));
    }
    ::closedir(directory);
    for (const std::string& path : stale) ::unlink(path.c_str());
  }
}

Status write_text_file(const StateStore& store, FolderState& state, const TextFileWork& file,
                       Report& report) {
  std::string original_hash = sha256_hex(file.original);
  std::string patched_hash = sha256_hex(file.patched);
  PatchedFileRecord record;
  auto existing = state.files.find(file.relative);
  bool continues_earlier_apply =
      existing != state.files.end() && existing->second.patched_sha256 == original_hash;
  if (continues_earlier_apply) {
    record = existing->second;
  } else {
    // First apply, or a new download replaced the file: its bytes are the new original.
    record.original_sha256 = original_hash;
    record.symlink_target = file.symlink_target;
    record.patch_ids.clear();
    Status created = make_directories(parent_of(store.original_path(file.relative)));
    if (!created) return created;
    Status backup = write_file_atomic(store.original_path(file.relative), file.original, 0644);
    if (!backup) return backup;
    fault_point("after-backup");
  }
  record.patched_sha256 = patched_hash;
  for (const std::string& id : file.patch_ids) {
    if (std::find(record.patch_ids.begin(), record.patch_ids.end(), id) == record.patch_ids.end())
      record.patch_ids.push_back(id);
  }
  state.files[file.relative] = record;
  Status saved = store.save(state);
  if (!saved) return saved;
  fault_point("after-state");

  Status written = write_file_atomic(file.path, file.patched, 0644);
  if (!written) return written;
  report.actions.push_back(
      "patched " + file.path +
      (file.symlink_target.empty() ? "" : " (the symlink is now a regular file)"));
  return Done{};
}

Result<FolderLock> lock_folder(const Options& options, FolderLock::Mode mode) {
  Status valid = check_model_dir(options.model_dir);
  if (!valid) return valid.error();
  return FolderLock::acquire(options.model_dir, mode);
}

// Restores one file from its backup, or leaves it when a new download replaced it.
Status revert_file(const StateStore& store, const std::string& model_dir,
                   const std::string& relative, const PatchedFileRecord& record,
                   const Recipe* recipe, Report& report) {
  std::string path = join_path(model_dir, relative);
  Result<std::string> current = read_text_file(path);
  if (!current) return current.error();
  std::string current_hash = sha256_hex(*current);

  if (current_hash == record.original_sha256) {
    report.actions.push_back("unchanged " + path + " (already the original)");
    return Done{};
  }
  if (current_hash != record.patched_sha256) {
    bool still_patched = false;
    if (recipe != nullptr) {
      for (const Patch& patch : recipe->patches) {
        if (patch.file != relative || std::holds_alternative<CopyDirectoryPatch>(patch.action))
          continue;
        TextEvaluation result = evaluate_text_patch(patch, *current, path);
        still_patched = still_patched || result.state == PatchState::applied;
      }
    }
    if (still_patched) {
      return apply_error(path + ": changed since minicpm-patch patched it (SHA-256 " +
                         current_hash + ", expected " + record.patched_sha256 +
                         "); revert would lose those changes, so restore it by hand from " +
                         store.original_path(relative));
    }
    report.actions.push_back("unchanged " + path +
                             " (replaced since it was patched; no patch in it)");
    return Done{};
  }

  Result<std::string> original = read_text_file(store.original_path(relative));
  if (!original) return original.error();
  if (sha256_hex(*original) != record.original_sha256) {
    return apply_error(store.original_path(relative) +
                       ": backup does not match its recorded SHA-256 " + record.original_sha256 +
                       "; restore " + path + " by re-downloading it");
  }
  if (!record.symlink_target.empty()) {
    std::string temp = join_path(parent_of(path), ".minicpm-patch.tmp.link");
    ::unlink(temp.c_str());
    if (::symlink(record.symlink_target.c_str(), temp.c_str()) != 0 ||
        ::rename(temp.c_str(), path.c_str()) != 0) {
      return io_error(path + ": cannot restore the symlink to " + record.symlink_target + ": " +
                      std::strerror(errno));
    }
    report.actions.push_back("restored " + path + " (symlink to " + record.symlink_target + ")");
  } else {
    Status written = write_file_atomic(path, *original, 0644);
    if (!written) return written;
    report.actions.push_back("restored " + path);
  }
  return Done{};
}

}  // namespace

bool all_verified(const Report& report) {
  return report.stale_copies.empty() &&
         std::all_of(report.patches.begin(), report.patches.end(), [](const PatchReport& patch) {
           return patch.state == PatchState::applied || patch.state == PatchState::upstream_fixed;
         });
}

Result<Recipe> detect_recipe(const std::string& model_dir) {
  Status valid = check_model_dir(model_dir);
  if (!valid) return valid.error();
  std::vector<const Recipe*> candidates;
  for (const Recipe& recipe : builtin_recipes()) {
    bool files_present = std::all_of(
        recipe.detect.files.begin(), recipe.detect.files.end(), [&](const std::string& file) {
          return ::access(join_path(model_dir, file).c_str(), F_OK) == 0;
        });
    if (!files_present) continue;
    if (!recipe.detect.config_path.empty()) {
      Result<json> value = config_value(model_dir, recipe.detect.config_path);
      if (!value) return value.error();
      if (*value != recipe.detect.config_value) continue;
    }
    candidates.push_back(&recipe);
  }
  if (candidates.size() == 1) return *candidates.front();

  std::string known;
  for (const Recipe& recipe : builtin_recipes()) known += (known.empty() ? "" : ", ") + recipe.id;
  if (candidates.empty()) {
    return usage_error(
        model_dir +
        ": no built-in recipe matches this folder, expected a MiniCPM-o 4.5 model folder; "
        "candidates: " +
        known + "; pass --recipe ID or --recipe FILE");
  }
  std::string matched;
  for (const Recipe* recipe : candidates) matched += (matched.empty() ? "" : ", ") + recipe->id;
  return usage_error(model_dir + ": several recipes match (" + matched +
                     "), expected one; pass --recipe ID");
}

Result<Report> run_status(const Options& options) {
  Result<FolderLock> lock = lock_folder(options, FolderLock::Mode::shared);
  if (!lock) return lock.error();
  Result<Evaluation> evaluation = evaluate(options, options.deep);
  if (!evaluation) return evaluation.error();
  return evaluation->report;
}

Result<Report> run_verify(const Options& options) { return run_status(options); }

Result<Report> run_diff(const Options& options) {
  Result<FolderLock> lock = lock_folder(options, FolderLock::Mode::shared);
  if (!lock) return lock.error();
  Result<Evaluation> evaluation = evaluate(options, false);
  if (!evaluation) return evaluation.error();
  if (any_drifted(evaluation->report)) return drift_error(evaluation->report);

  Report& report = evaluation->report;
  for (const TextFileWork& file : evaluation->files)
    report.diff += unified_diff(file.original, file.patched, file.relative);
  if (evaluation->copy_plan && evaluation->copy_plan->state == PatchState::pending) {
    const CopyPlan& plan = *evaluation->copy_plan;
    const auto& copy = std::get<CopyDirectoryPatch>(evaluation->copy_patch->action);
    std::string source_dir = plan.source_model_dir.empty()
                                 ? "(no source)"
                                 : join_path(plan.source_model_dir, copy.directory);
    for (const CopyFileEntry& entry : plan.to_copy)
      report.diff += "Only in " + source_dir + ": " + entry.relative_path + "\n";
    if (plan.source_model_dir.empty()) report.diff += "# " + plan.detail + "\n";
  }
  return report;
}

Result<Report> run_apply(const Options& options) {
  Result<FolderLock> lock = lock_folder(options, FolderLock::Mode::exclusive);
  if (!lock) return lock.error();
  Result<Evaluation> evaluation = evaluate(options, false);
  if (!evaluation) return evaluation.error();
  if (any_drifted(evaluation->report)) return drift_error(evaluation->report);
  Status source_ready = check_copy_source(*evaluation);
  if (!source_ready) return source_ready.error();

  StateStore store(options.model_dir);
  Result<FolderState> loaded = store.load();
  if (!loaded) return loaded.error();
  FolderState state = *loaded;
  remove_leftovers(store, *evaluation);

  Report report = evaluation->report;
  bool changed = false;
  bool had_state_folder = ::access(store.folder().c_str(), F_OK) == 0;
  for (const TextFileWork& file : evaluation->files) {
    if (file.patched == file.original) continue;
    state.recipe =
        evaluation->recipe.origin == "built-in" ? evaluation->recipe.id : evaluation->recipe.origin;
    Status written = write_text_file(store, state, file, report);
    if (!written) {
      // Before the first target is replaced, undo the backup too, so the folder is as it was.
      if (!changed && !had_state_folder) {
        std::error_code ignored;
        std::filesystem::remove_all(store.folder(), ignored);
      }
      return written.error();
    }
    changed = true;
  }

  if (evaluation->copy_plan && evaluation->copy_plan->state == PatchState::pending) {
    const CopyPlan& plan = *evaluation->copy_plan;
    const std::string& directory = evaluation->copy_patch->file;
    Status staging = make_directories(store.staging_dir());
    if (!staging) return staging.error();
    CopyRecord record =
        state.directories.count(directory) ? state.directories[directory] : CopyRecord{};
    CopyRecord added;
    auto store_record = [&](const CopyRecord& progress_record) -> Status {
      CopyRecord merged = record;
      merged.created_directory = merged.created_directory || progress_record.created_directory;
      for (const std::string& file : progress_record.files) merged.files.push_back(file);
      for (const std::string& file : progress_record.replaced) merged.replaced.push_back(file);
      for (const std::string& folder : progress_record.folders) merged.folders.push_back(folder);
      state.directories[directory] = merged;
      return store.save(state);
    };
    CopyMode mode = options.hard_link ? CopyMode::hard_link : CopyMode::copy;
    Status copied = run_copy_plan(plan, store.staging_dir(), store.replaced_dir(), mode, added,
                                  store_record, options.progress);
    if (!copied) return copied.error();
    ::rmdir(store.staging_dir().c_str());
    report.actions.push_back(
        (options.hard_link ? "linked " : "copied ") + std::to_string(plan.to_copy.size()) +
        " files (" + std::to_string(plan.bytes_to_copy) + " bytes) into " + plan.target_dir);
    changed = true;
  }
  if (!changed)
    report.actions.push_back("nothing to do: every selected patch is applied or upstream-fixed");

  // The report shows the folder as apply leaves it. Unchanged, the first evaluation still
  // holds, which saves a second scan on the common already-patched run.
  Report final_state = evaluation->report;
  if (changed) {
    Result<Evaluation> after = evaluate(options, false);
    if (!after) return after.error();
    final_state = after->report;
  }
  if (options.refresh_modules_cache && !final_state.stale_copies.empty()) {
    Result<std::vector<std::string>> refreshed = refresh_stale_copies(final_state.stale_copies);
    if (!refreshed) return refreshed.error();
    report.actions.insert(report.actions.end(), refreshed->begin(), refreshed->end());
    Result<Evaluation> after = evaluate(options, false);
    if (!after) return after.error();
    final_state = after->report;
  }
  report.patches = final_state.patches;
  report.stale_copies = final_state.stale_copies;
  report.warnings = final_state.warnings;
  report.notes = final_state.notes;
  return report;
}

Result<Report> run_revert(const Options& options) {
  Result<FolderLock> lock = lock_folder(options, FolderLock::Mode::exclusive);
  if (!lock) return lock.error();
  StateStore store(options.model_dir);
  Result<FolderState> loaded = store.load();
  if (!loaded) return loaded.error();
  FolderState state = *loaded;

  Report report;
  report.recipe_id = state.recipe;
  if (state.empty()) {
    report.actions.push_back("nothing to revert: " + store.folder() +
                             " holds no record of an apply");
    return report;
  }
  std::optional<Recipe> recipe;
  if (!state.recipe.empty()) {
    Result<Recipe> resolved = resolve_recipe(state.recipe);
    if (resolved) recipe = *resolved;
  }

  std::map<std::string, PatchedFileRecord> files = state.files;
  for (const auto& [relative, record] : files) {
    Status reverted = revert_file(store, options.model_dir, relative, record,
                                  recipe ? &*recipe : nullptr, report);
    if (!reverted) return reverted.error();
    ::unlink(store.original_path(relative).c_str());
    state.files.erase(relative);
    Status saved = store.save(state);
    if (!saved) return saved.error();
  }
  std::map<std::string, CopyRecord> directories = state.directories;
  for (const auto& [directory, record] : directories) {
    std::string target = join_path(options.model_dir, directory);
    Status undone = undo_copy(target, store.replaced_dir(), record);
    if (!undone) return undone.error();
    report.actions.push_back(
        "removed " + std::to_string(record.files.size()) + " copied files from " + target +
        (record.created_directory && !is_folder(target) ? " and the folder itself" : ""));
    state.directories.erase(directory);
    Status saved = store.save(state);
    if (!saved) return saved.error();
  }
  return report;
}

}  // namespace minicpm
