// Helpers shared by the unit tests: fixture files and small text utilities.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace minicpm::test {

// Reads a file under fixtures/ (the build passes the folder as MINICPM_FIXTURES_DIR).
inline std::string fixture(const std::string& relative) {
  std::string path = std::string(MINICPM_FIXTURES_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("fixture not found: " + path);
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

inline std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("text not found: " + from);
  return text.replace(at, from.size(), to);
}

inline size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

}  // namespace minicpm::test
