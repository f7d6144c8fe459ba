#include "copy_directory.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "file_io.h"
#include "sha256.h"

namespace minicpm {
namespace {

std::string errno_text() { return std::strerror(errno); }

Result<std::string> resolved_path(const std::string& path) {
  std::optional<std::string> resolved = real_path(path);
  if (!resolved) return io_error(path + ": cannot resolve the path: " + errno_text());
  return *resolved;
}

// The folders a source symlink may point into: the source model folder itself, and for a
// Hub cache snapshot (".../models--org--name/snapshots/<revision>") the cache's "blobs".
std::vector<std::string> allowed_link_roots(const std::string& source_model_real) {
  std::vector<std::string> roots = {source_model_real};
  std::string snapshots = parent_of(source_model_real);
  if (base_name(snapshots) == "snapshots") roots.push_back(parent_of(snapshots) + "/blobs");
  return roots;
}

Status list_files(const std::string& folder, const std::string& relative,
                  const std::vector<std::string>& link_roots, std::vector<CopyFileEntry>& files) {
  DIR* directory = ::opendir(folder.c_str());
  if (directory == nullptr) return io_error(folder + ": cannot read the folder: " + errno_text());
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(directory)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(directory);
  std::sort(names.begin(), names.end());

  for (const std::string& name : names) {
    std::string path = folder + "/" + name;
    std::string inner = relative.empty() ? name : relative + "/" + name;
    struct stat link_info {};
    if (::lstat(path.c_str(), &link_info) != 0)
      return io_error(path + ": cannot stat: " + errno_text());
    std::string resolved = path;
    if (S_ISLNK(link_info.st_mode)) {
      Result<std::string> target = resolved_path(path);
      if (!target) return target.error();
      bool allowed = false;
      for (const std::string& root : link_roots) {
        allowed = allowed || *target == root || is_inside(*target, root);
      }
      if (!allowed) {
        return apply_error(path + ": symlink points outside the source folder (to " + *target +
                           "), expected a file inside it");
      }
      resolved = *target;
    }
    struct stat info {};
    if (::stat(resolved.c_str(), &info) != 0)
      return io_error(path + ": cannot stat: " + errno_text());
    if (S_ISDIR(info.st_mode)) {
      Status nested = list_files(resolved, inner, link_roots, files);
      if (!nested) return nested;
    } else if (S_ISREG(info.st_mode)) {
      if (::access(resolved.c_str(), R_OK) != 0)
        return io_error(path + ": not readable: " + errno_text());
      files.push_back({inner, resolved, static_cast<uint64_t>(info.st_size)});
    }
  }
  return Done{};
}

bool matches_required(const std::string& pattern, const std::string& relative_path) {
  return ::fnmatch(pattern.c_str(), relative_path.c_str(), FNM_PATHNAME) == 0;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// Required patterns that no regular file of the target folder matches.
std::vector<std::string> missing_required_in_target(const CopyDirectoryPatch& copy,
                                                    const std::string& target_dir) {
  std::vector<CopyFileEntry> present;
  struct stat info {};
  if (::stat(target_dir.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    Status listed = list_files(target_dir, "", {target_dir}, present);
    (void)listed;  // An unreadable part counts as missing.
  }
  std::vector<std::string> missing;
  for (const std::string& pattern : copy.required) {
    bool found = std::any_of(present.begin(), present.end(), [&](const CopyFileEntry& entry) {
      return matches_required(pattern, entry.relative_path);
    });
    if (!found) missing.push_back(pattern);
  }
  return missing;
}

Status rename_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return io_error(to + ": cannot move " + from + " into place: " + errno_text());
  }
  return Done{};
}

}  // namespace

Result<CopyPlan> plan_copy_directory(const Patch& patch, const std::string& model_dir,
                                     const std::string& source_model_dir, bool deep) {
  const auto& copy = std::get<CopyDirectoryPatch>(patch.action);
  CopyPlan plan;
  plan.target_dir = join_path(model_dir, copy.directory);
  plan.source_model_dir = source_model_dir;

  struct stat info {};
  if (::stat(plan.target_dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) {
      plan.state = PatchState::drifted;
      plan.detail = plan.target_dir + ": exists but is not a folder, expected a folder or nothing";
      return plan;
    }
    plan.target_exists = true;
  }

  if (source_model_dir.empty()) {
    std::vector<std::string> missing = missing_required_in_target(copy, plan.target_dir);
    if (missing.empty()) {
      plan.state = PatchState::applied;
      plan.detail =
          plan.target_dir + ": all required files present (no source given to compare sizes)";
    } else {
      plan.state = PatchState::pending;
      plan.detail = plan.target_dir + ": missing " + join_list(missing) +
                    "; pass --assets-from with the BF16 model folder";
    }
    return plan;
  }

  std::string source_dir = join_path(source_model_dir, copy.directory);
  if (::stat(source_dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    plan.missing_in_source = copy.required;
  } else {
    Result<std::string> source_real = resolved_path(source_model_dir);
    if (!source_real) return source_real.error();
    Status listed = list_files(source_dir, "", allowed_link_roots(*source_real), plan.source_files);
    if (!listed) return listed.error();
    for (const std::string& pattern : copy.required) {
      bool found = std::any_of(plan.source_files.begin(), plan.source_files.end(),
                               [&](const CopyFileEntry& entry) {
                                 return matches_required(pattern, entry.relative_path);
                               });
      if (!found) plan.missing_in_source.push_back(pattern);
    }
  }

  for (const CopyFileEntry& entry : plan.source_files) {
    std::string target = join_path(plan.target_dir, entry.relative_path);
    struct stat target_info {};
    bool same = ::stat(target.c_str(), &target_info) == 0 && S_ISREG(target_info.st_mode) &&
                static_cast<uint64_t>(target_info.st_size) == entry.size;
    if (same && deep) {
      Result<std::string> source_hash = sha256_file(entry.source_path);
      if (!source_hash) return source_hash.error();
      Result<std::string> target_hash = sha256_file(target);
      same = target_hash && *target_hash == *source_hash;
    }
    if (!same) {
      plan.to_copy.push_back(entry);
      plan.bytes_to_copy += entry.size;
    }
  }

  std::vector<std::string> missing_in_target = missing_required_in_target(copy, plan.target_dir);
  if (plan.to_copy.empty() && missing_in_target.empty()) {
    plan.state = PatchState::applied;
    plan.detail = plan.target_dir + ": " + std::to_string(plan.source_files.size()) +
                  " files match " + source_dir + (deep ? " (size and SHA-256)" : " (size)");
  } else {
    plan.state = PatchState::pending;
    plan.detail = plan.target_dir + ": " + std::to_string(plan.to_copy.size()) + " files (" +
                  std::to_string(plan.bytes_to_copy) + " bytes) to copy from " + source_dir;
  }
  return plan;
}

Status copy_file_contents(const std::string& source, const std::string& destination,
                          const CopyProgress& progress, uint64_t done_before, uint64_t total) {
  int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return io_error(source + ": cannot open for reading: " + errno_text());
  struct stat info {};
  ::fstat(in, &info);
  int out =
      ::open(destination.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, info.st_mode & 0777);
  if (out < 0) {
    std::string message = destination + ": cannot create: " + errno_text();
    ::close(in);
    return io_error(message);
  }
  auto fail = [&](const std::string& message) -> Status {
    ::close(in);
    ::close(out);
    ::unlink(destination.c_str());
    return io_error(message);
  };

  const auto size = static_cast<uint64_t>(info.st_size);
  uint64_t copied = 0;
  if (::ioctl(out, FICLONE, in) == 0) {
    copied = size;
    if (progress) progress(done_before + copied, total);
  } else {
    bool use_copy_file_range = true;
    while (copied < size && use_copy_file_range) {
      ssize_t count = ::copy_file_range(in, nullptr, out, nullptr,
                                        std::min<uint64_t>(size - copied, 64u << 20), 0);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0 &&
          (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        use_copy_file_range = false;
        break;
      }
      if (count < 0) return fail(destination + ": copy failed: " + errno_text());
      if (count == 0) break;
      copied += static_cast<uint64_t>(count);
      if (progress) progress(done_before + copied, total);
    }
    if (!use_copy_file_range) {
      std::vector<char> buffer(1u << 20);
      ::lseek(in, static_cast<off_t>(copied), SEEK_SET);
      ::lseek(out, static_cast<off_t>(copied), SEEK_SET);
      for (;;) {
        ssize_t count = ::read(in, buffer.data(), buffer.size());
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return fail(source + ": read failed: " + errno_text());
        if (count == 0) break;
        for (ssize_t written = 0; written < count;) {
          ssize_t step =
              ::write(out, buffer.data() + written, static_cast<size_t>(count - written));
          if (step < 0 && errno == EINTR) continue;
          if (step < 0) return fail(destination + ": write failed: " + errno_text());
          written += step;
        }
        copied += static_cast<uint64_t>(count);
        if (progress) progress(done_before + copied, total);
      }
    }
  }
  if (copied != size)
    return fail(destination + ": copied " + std::to_string(copied) + " of " + std::to_string(size) +
                " bytes");
  if (::fsync(out) != 0) return fail(destination + ": fsync failed: " + errno_text());
  ::close(in);
  if (::close(out) != 0) {
    ::unlink(destination.c_str());
    return io_error(destination + ": close failed: " + errno_text());
  }
  return Done{};
}

Status run_copy_plan(const CopyPlan& plan, const std::string& staging_dir,
                     const std::string& replaced_dir, CopyMode mode, CopyRecord& record,
                     const std::function<Status(const CopyRecord&)>& before_commit,
                     const CopyProgress& progress) {
  uint64_t done = 0;
  auto place_file = [&](const CopyFileEntry& entry, const std::string& destination) -> Status {
    if (mode == CopyMode::hard_link) {
      if (::link(entry.source_path.c_str(), destination.c_str()) != 0) {
        std::string hint = errno == EXDEV ? "; --link needs both folders on one file system" : "";
        return io_error(destination + ": cannot hard-link " + entry.source_path + ": " +
                        errno_text() + hint);
      }
      return Done{};
    }
    return copy_file_contents(entry.source_path, destination, progress, done, plan.bytes_to_copy);
  };

  if (!plan.target_exists) {
    // Fill a staging folder, then rename it into place: an interrupted copy leaves no
    // half-filled target folder.
    std::string staging = join_path(staging_dir, "copy.XXXXXX");
    if (::mkdtemp(staging.data()) == nullptr)
      return io_error(staging_dir + ": cannot create a staging folder: " + errno_text());
    ::chmod(staging.c_str(), 0755);
    for (const CopyFileEntry& entry : plan.to_copy) {
      std::string destination = join_path(staging, entry.relative_path);
      Status folder = make_directories(parent_of(destination));
      if (!folder) return folder;
      Status placed = place_file(entry, destination);
      if (!placed) return placed;
      done += entry.size;
      record.files.push_back(entry.relative_path);
      fault_point("between-files");
    }
    record.created_directory = true;
    Status stored = before_commit(record);
    if (!stored) return stored;
    Status synced = sync_directory(staging);
    if (!synced) return synced;
    Status moved = rename_path(staging, plan.target_dir);
    if (!moved) return moved;
    return sync_directory(parent_of(plan.target_dir));
  }

  // The target exists in part: copy each missing or different file next to nothing visible,
  // then rename it into place, moving a different file aside first.
  for (const CopyFileEntry& entry : plan.to_copy) {
    std::string staging = join_path(staging_dir, "file.XXXXXX");
    int fd = ::mkstemp(staging.data());
    if (fd < 0) return io_error(staging_dir + ": cannot create a staging file: " + errno_text());
    ::close(fd);
    ::unlink(staging.c_str());
    Status placed = place_file(entry, staging);
    if (!placed) return placed;

    std::string destination = join_path(plan.target_dir, entry.relative_path);
    std::string folder = parent_of(destination);
    struct stat info {};
    if (::stat(folder.c_str(), &info) != 0) {
      record.folders.push_back(parent_of(entry.relative_path));
      Status created = make_directories(folder);
      if (!created) return created;
    }
    bool replacing = ::lstat(destination.c_str(), &info) == 0;
    if (replacing) record.replaced.push_back(entry.relative_path);
    record.files.push_back(entry.relative_path);
    Status stored = before_commit(record);
    if (!stored) return stored;
    if (replacing) {
      std::string aside = join_path(replaced_dir, entry.relative_path);
      Status aside_folder = make_directories(parent_of(aside));
      if (!aside_folder) return aside_folder;
      Status moved_aside = rename_path(destination, aside);
      if (!moved_aside) return moved_aside;
    }
    Status moved = rename_path(staging, destination);
    if (!moved) return moved;
    done += entry.size;
    fault_point("between-files");
  }
  return sync_directory(plan.target_dir);
}

Status undo_copy(const std::string& target_dir, const std::string& replaced_dir,
                 const CopyRecord& record) {
  for (const std::string& file : record.files) {
    std::string path = join_path(target_dir, file);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return io_error(path + ": cannot remove: " + errno_text());
  }
  for (const std::string& file : record.replaced) {
    std::string aside = join_path(replaced_dir, file);
    struct stat info {};
    if (::lstat(aside.c_str(), &info) == 0) {
      Status moved = rename_path(aside, join_path(target_dir, file));
      if (!moved) return moved;
    }
  }

  // Remove the folders the copy created, deepest first, when they are empty.
  std::vector<std::string> folders;
  if (record.created_directory) {
    for (const std::string& file : record.files) {
      for (std::string folder = parent_of(file); folder != "." && !folder.empty();
           folder = parent_of(folder)) {
        folders.push_back(folder);
      }
    }
  }
  folders.insert(folders.end(), record.folders.begin(), record.folders.end());
  std::sort(folders.begin(), folders.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  folders.erase(std::unique(folders.begin(), folders.end()), folders.end());
  for (const std::string& folder : folders) ::rmdir(join_path(target_dir, folder).c_str());
  if (record.created_directory) ::rmdir(target_dir.c_str());
  return Done{};
}

}  // namespace minicpm
