// A Python tokenizer that handles just enough of the language to find statements by
// structure: strings of every form, comments, brackets spanning lines, backslash
// continuations, indentation with tabs or spaces, and LF or CRLF line endings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace minicpm {

struct PhysicalLine {
  size_t begin = 0;        // Offset of the first byte.
  size_t content_end = 0;  // Offset of the line ending, or of the end of the file.
  size_t end = 0;          // Offset just past the line ending.
};

enum class TokenKind : unsigned char { name, number, string, op };

struct Token {
  std::string_view text;
  uint32_t line;  // 0-based physical line of the token's first byte.
  TokenKind kind;
};

// A logical line's tokens: a view into PythonSource::tokens.
class TokenRange {
 public:
  TokenRange() = default;
  TokenRange(const Token* first, size_t size) : first_(first), size_(size) {}

  const Token* begin() const { return first_; }
  const Token* end() const { return first_ + size_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Token& operator[](size_t index) const { return first_[index]; }
  const Token& front() const { return first_[0]; }
  const Token& back() const { return first_[size_ - 1]; }

 private:
  const Token* first_ = nullptr;
  size_t size_ = 0;
};

struct Comment {
  size_t line;            // 0-based physical line.
  std::string_view text;  // From '#' to the end of the line, without the line ending.
};

// One logical line: a statement, or the header of a compound statement. Blank lines and
// comment-only lines are not logical lines.
struct LogicalLine {
  size_t first_line = 0;  // 0-based physical lines.
  size_t last_line = 0;
  size_t indent_width = 0;  // Columns, with tabs to the next multiple of 8 as Python counts.
  std::string_view indent;  // The raw leading whitespace.
  TokenRange tokens;

  // True when the line ends with ':' and so opens an indented block.
  bool opens_block() const { return !tokens.empty() && tokens.back().text == ":"; }
  bool starts_with(std::string_view word) const {
    return !tokens.empty() && tokens.front().text == word;
  }
};

// The scan of one file. Statements view its tokens and all of it views the text, so it moves
// but does not copy, and the text must outlive it.
struct PythonSource {
  PythonSource() = default;
  PythonSource(PythonSource&&) = default;
  PythonSource& operator=(PythonSource&&) = default;
  PythonSource(const PythonSource&) = delete;
  PythonSource& operator=(const PythonSource&) = delete;

  std::string_view text;
  std::vector<Token> tokens;  // Every token of the file, in order.
  std::vector<PhysicalLine> lines;
  std::vector<LogicalLine> statements;
  std::vector<Comment> comments;
  // For each statement, the index just past its block: the first later statement that is
  // indented no deeper. Equal to index + 1 for a statement without a block.
  std::vector<size_t> extent_end;
};

// Tokenizes text. file_label names the file in error messages, which read
// "<file>:<line>: <what is wrong>, expected <what>".
Result<PythonSource> scan_python(std::string_view text, const std::string& file_label);

// The statement's tokens joined by single spaces, with single-quoted string literals
// rewritten with double quotes, so that two spellings of the same code compare equal.
std::string normalized_code(const TokenRange& tokens);

// Normalizes a code snippet such as `kwargs["num_beams"] = 1` the same way. Returns an
// empty string when the snippet is not one logical line of Python.
std::string normalize_snippet(std::string_view code);

// Returns the line ending used by the given physical line ("\r\n" or "\n"), or the
// file's first line ending when that line has none.
std::string_view line_ending_of(const PythonSource& source, size_t line);

}  // namespace minicpm
