// SHA-256 digests through OpenSSL's EVP interface.
#pragma once

#include <string>
#include <string_view>

#include "error.h"

namespace minicpm {

// Returns the lowercase hex SHA-256 of data.
std::string sha256_hex(std::string_view data);

// Hashes the file at path in fixed-size chunks, so memory does not grow with its size.
Result<std::string> sha256_file(const std::string& path);

}  // namespace minicpm
