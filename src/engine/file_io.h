// File access for the engine: whole-file reads, atomic replacement, folder locks and the
// fault-injection points that the crash tests use.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "error.h"

namespace minicpm {

// Largest file the text patches read into memory (Python and JSON sources).
constexpr size_t kMaxTextFileSize = 64u << 20;

Result<std::string> read_text_file(const std::string& path);

// Replaces path with data: writes a temporary file in the same folder, flushes it to disk,
// gives it the target's mode (mode_if_new when the target does not exist) and renames it over
// the target, then flushes the folder. A reader sees the old or the new file, never a mix.
// A target that is a symlink is replaced by a regular file; the file it points to is left as
// it was.
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode_if_new);

// Creates path and its missing parents with mode 0755.
Status make_directories(const std::string& path);

// Flushes a folder's entries (after a rename inside it) to disk.
Status sync_directory(const std::string& path);

// An advisory lock (flock) on a folder itself, so taking it creates no file in the folder.
// Exclusive for commands that write, shared for commands that only read.
class FolderLock {
 public:
  enum class Mode { shared, exclusive };

  static Result<FolderLock> acquire(const std::string& folder, Mode mode);

  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&& other) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();

 private:
  explicit FolderLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Kills the process with SIGKILL when the environment variable MINICPM_PATCH_TEST_KILL_AT
// names this point, as "point" (first time it is reached) or "point#N" (N-th time). For the
// crash-safety tests only; unset, it costs one getenv per call.
void fault_point(const char* point);

std::string join_path(const std::string& folder, const std::string& name);

// The folder part of path: "." without a slash, "/" for a file at the root.
std::string parent_of(const std::string& path);

// The last part of path, ignoring trailing slashes.
std::string base_name(std::string path);

// True when path lies strictly below folder; both are absolute, resolved paths.
bool is_inside(const std::string& path, const std::string& folder);

// The absolute path with every symlink resolved, or nothing when it cannot be resolved.
std::optional<std::string> real_path(const std::string& path);

}  // namespace minicpm
