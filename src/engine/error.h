// Error values returned by the engine. Only the CLI prints them.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace minicpm {

// The kind of failure, which is also the CLI's exit code for it.
enum class ErrorKind {
  verification_failed = 1,
  usage = 2,
  cannot_apply = 3,
  io = 4,
};

struct Error {
  ErrorKind kind;
  std::string message;  // Starts with the file or folder concerned.
};

inline Error usage_error(std::string message) { return {ErrorKind::usage, std::move(message)}; }
inline Error apply_error(std::string message) {
  return {ErrorKind::cannot_apply, std::move(message)};
}
inline Error io_error(std::string message) { return {ErrorKind::io, std::move(message)}; }

// A value or the Error that prevented it.
template <typename T>
class Result {
 public:
  Result(T value) : storage_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : storage_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(storage_); }
  explicit operator bool() const { return ok(); }

  T& value() { return std::get<T>(storage_); }
  const T& value() const { return std::get<T>(storage_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<Error>(storage_); }

 private:
  std::variant<T, Error> storage_;
};

struct Done {};
using Status = Result<Done>;

}  // namespace minicpm
