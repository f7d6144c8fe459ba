#include "file_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>

namespace minicpm {
namespace {

std::string errno_text() { return std::strerror(errno); }

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t count = ::write(fd, data.data(), data.size());
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return io_error(path + ": write failed: " + errno_text());
    data.remove_prefix(static_cast<size_t>(count));
  }
  return Done{};
}

}  // namespace

std::string parent_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_inside(const std::string& path, const std::string& folder) {
  return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 &&
         path[folder.size()] == '/';
}

std::optional<std::string> real_path(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return std::nullopt;
  std::string result = resolved;
  std::free(resolved);
  return result;
}

std::string join_path(const std::string& folder, const std::string& name) {
  if (folder.empty()) return name;
  if (folder.back() == '/') return folder + name;
  return folder + "/" + name;
}

Result<std::string> read_text_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path + ": cannot open for reading: " + errno_text());

  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return apply_error(path + ": not a regular file, expected a text file");
  }
  if (static_cast<size_t>(info.st_size) > kMaxTextFileSize) {
    ::close(fd);
    return apply_error(path + ": file is " + std::to_string(info.st_size) +
                       " bytes, expected at most " + std::to_string(kMaxTextFileSize));
  }

  std::string data;
  data.resize(static_cast<size_t>(info.st_size));
  size_t filled = 0;
  for (;;) {
    if (filled == data.size()) data.resize(data.size() + 4096);
    ssize_t count = ::read(fd, &data[filled], data.size() - filled);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      std::string message = path + ": read failed: " + errno_text();
      ::close(fd);
      return io_error(message);
    }
    if (count == 0) break;
    filled += static_cast<size_t>(count);
    if (filled > kMaxTextFileSize) {
      ::close(fd);
      return apply_error(path + ": file grew past " + std::to_string(kMaxTextFileSize) +
                         " bytes while being read");
    }
  }
  ::close(fd);
  data.resize(filled);
  return data;
}

Status sync_directory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(path + ": cannot open folder: " + errno_text());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  // Some file systems reject fsync on a folder (EINVAL); the rename itself is still atomic.
  if (rc != 0 && saved != EINVAL) {
    return io_error(path + ": flushing the folder failed: " + std::strerror(saved));
  }
  return Done{};
}

Status make_directories(const std::string& path) {
  if (path.empty() || path == "/" || path == ".") return Done{};
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return Done{};
    return apply_error(path + ": exists but is not a folder, expected a folder");
  }
  Status parent = make_directories(parent_of(path));
  if (!parent) return parent;
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return io_error(path + ": cannot create folder: " + errno_text());
  }
  return Done{};
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode_if_new) {
  mode_t mode = mode_if_new;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) mode = info.st_mode & 07777;

  std::string folder = parent_of(path);
  std::string temp_path = folder + "/.minicpm-patch.tmp.XXXXXX";
  int fd = ::mkstemp(temp_path.data());
  if (fd < 0) return io_error(folder + ": cannot create a temporary file: " + errno_text());

  auto fail = [&](Error error) -> Status {
    ::close(fd);
    ::unlink(temp_path.c_str());
    return error;
  };
  Status written = write_all(fd, data, temp_path);
  if (!written) return fail(written.error());
  if (::fchmod(fd, mode) != 0) return fail(io_error(temp_path + ": chmod failed: " + errno_text()));
  if (::fsync(fd) != 0) return fail(io_error(temp_path + ": fsync failed: " + errno_text()));
  if (::close(fd) != 0) {
    ::unlink(temp_path.c_str());
    return io_error(temp_path + ": close failed: " + errno_text());
  }

  fault_point("before-rename");
  if (::rename(temp_path.c_str(), path.c_str()) != 0) {
    std::string message = path + ": cannot replace the file: " + errno_text();
    ::unlink(temp_path.c_str());
    return io_error(message);
  }
  fault_point("after-rename");
  return sync_directory(folder);
}

Result<FolderLock> FolderLock::acquire(const std::string& folder, Mode mode) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(folder + ": cannot open folder to lock it: " + errno_text());
  int operation = mode == Mode::exclusive ? LOCK_EX : LOCK_SH;
  while (::flock(fd, operation) != 0) {
    if (errno == EINTR) continue;
    std::string message = folder + ": cannot lock folder: " + errno_text();
    ::close(fd);
    return io_error(message);
  }
  return FolderLock(fd);
}

FolderLock::FolderLock(FolderLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // Closing the descriptor releases the flock.
}

void fault_point(const char* point) {
  static const char* setting = std::getenv("MINICPM_PATCH_TEST_KILL_AT");
  if (setting == nullptr || *setting == '\0') return;

  std::string target = setting;
  long target_hit = 1;
  size_t hash = target.find('#');
  if (hash != std::string::npos) {
    target_hit = std::strtol(target.c_str() + hash + 1, nullptr, 10);
    target.resize(hash);
  }
  if (target != point) return;

  static std::map<std::string, long> hits;
  if (++hits[target] == target_hit) ::raise(SIGKILL);
}

}  // namespace minicpm
