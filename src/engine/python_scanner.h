// A Python tokenizer that handles just enough of the language to find statements by
// structure: strings of every form, comments, brackets spanning lines, backslash
// continuations, indentation with tabs or spaces, and LF or CRLF line endings.
#pragma once

#include <cstddef>
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

enum class TokenKind { name, number, string, op };

struct Token {
  TokenKind kind;
  std::string_view text;
  size_t line;  // 0-based physical line of the token's first byte.
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
  std::vector<Token> tokens;

  // True when the line ends with ':' and so opens an indented block.
  bool opens_block() const { return !tokens.empty() && tokens.back().text == ":"; }
  bool starts_with(std::string_view word) const {
    return !tokens.empty() && tokens.front().text == word;
  }
};

struct PythonSource {
  std::string_view text;
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
std::string normalized_code(const std::vector<Token>& tokens);

// Normalizes a code snippet such as `kwargs["num_beams"] = 1` the same way. Returns an
// empty string when the snippet is not one logical line of Python.
std::string normalize_snippet(std::string_view code);

// Returns the line ending used by the given physical line ("\r\n" or "\n"), or the
// file's first line ending when that line has none.
std::string_view line_ending_of(const PythonSource& source, size_t line);

}  // namespace minicpm
