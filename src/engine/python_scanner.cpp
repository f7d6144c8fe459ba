#include "python_scanner.h"

#include <algorithm>
#include <array>

namespace minicpm {
namespace {

bool is_name_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

bool is_name_char(unsigned char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_string_prefix(std::string_view word) {
  std::string lower(word);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::array<std::string_view, 8> prefixes = {"r",  "u",  "b",  "f",
                                                           "br", "rb", "fr", "rf"};
  return std::find(prefixes.begin(), prefixes.end(), lower) != prefixes.end();
}

std::string location(const std::string& file, size_t line) {
  return file + ":" + std::to_string(line + 1) + ": ";
}

// Finds the first byte that breaks UTF-8 (or is NUL) and returns its offset, or npos.
size_t find_invalid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned int code_point = 0;
    if ((c & 0xe0) == 0xc0) {
      length = 2;
      code_point = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3;
      code_point = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4;
      code_point = c & 0x07;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return i;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    bool overlong = (length == 2 && code_point < 0x80) || (length == 3 && code_point < 0x800) ||
                    (length == 4 && code_point < 0x10000);
    bool surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
    if (overlong || surrogate || code_point > 0x10ffff) return i;
    i += length;
  }
  return std::string_view::npos;
}

std::vector<PhysicalLine> split_lines(std::string_view text) {
  std::vector<PhysicalLine> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t newline = text.find('\n', begin);
    PhysicalLine line;
    line.begin = begin;
    if (newline == std::string_view::npos) {
      line.content_end = line.end = text.size();
    } else {
      line.content_end = (newline > begin && text[newline - 1] == '\r') ? newline - 1 : newline;
      line.end = newline + 1;
    }
    lines.push_back(line);
    begin = line.end;
  }
  return lines;
}

size_t line_of_offset(const std::vector<PhysicalLine>& lines, size_t offset) {
  auto it =
      std::upper_bound(lines.begin(), lines.end(), offset,
                       [](size_t value, const PhysicalLine& line) { return value < line.begin; });
  return it == lines.begin() ? 0 : static_cast<size_t>(it - lines.begin()) - 1;
}

// Tokenizer state for one pass over the text.
class Scanner {
 public:
  Scanner(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  Result<PythonSource> run();

 private:
  size_t end_of_line_length(size_t at) const {
    if (at < text_.size() && text_[at] == '\n') return 1;
    if (at + 1 < text_.size() && text_[at] == '\r' && text_[at + 1] == '\n') return 2;
    return 0;
  }
  void count_newlines(size_t from, size_t to) {
    line_ += static_cast<size_t>(std::count(text_.begin() + static_cast<long>(from),
                                            text_.begin() + static_cast<long>(to), '\n'));
  }
  Result<size_t> scan_string(size_t quote_at, size_t token_begin);
  // Adds the string literal that starts at token_begin (its prefix) and whose opening quote
  // is at quote_at, and moves past it.
  Status add_string_token(size_t token_begin, size_t quote_at) {
    Result<size_t> string_end = scan_string(quote_at, token_begin);
    if (!string_end) return string_end.error();
    add_token(TokenKind::string, text_.substr(token_begin, *string_end - token_begin));
    count_newlines(token_begin, *string_end);
    position_ = *string_end;
    return Done{};
  }
  size_t scan_number(size_t at) const;
  size_t scan_operator(size_t at) const;
  void record_comment(size_t at) {
    size_t stop = source_.lines[line_].content_end;
    source_.comments.push_back({line_, text_.substr(at, stop - at)});
    position_ = stop;
  }
  void add_token(TokenKind kind, std::string_view text) {
    source_.tokens.push_back({text, static_cast<uint32_t>(line_), kind});
  }
  void finish_statement(size_t last_line) {
    current_.last_line = last_line;
    source_.statements.push_back(current_);
    token_ranges_.emplace_back(statement_first_token_, source_.tokens.size());
    current_ = LogicalLine{};
    in_statement_ = false;
  }

  std::string_view text_;
  const std::string& file_;
  PythonSource source_;
  LogicalLine current_;
  bool in_statement_ = false;
  size_t position_ = 0;
  size_t line_ = 0;
  struct OpenBracket {
    char bracket;
    size_t line;
  };
  std::vector<OpenBracket> brackets_;
  size_t statement_first_token_ = 0;
  // Each statement's [first, end) token indexes; the ranges are set once tokens stop growing.
  std::vector<std::pair<size_t, size_t>> token_ranges_;
};

Result<size_t> Scanner::scan_string(size_t quote_at, size_t token_begin) {
  char quote = text_[quote_at];
  auto three_quotes_at = [&](size_t at) {
    return at + 2 < text_.size() && text_[at] == quote && text_[at + 1] == quote &&
           text_[at + 2] == quote;
  };
  bool triple = three_quotes_at(quote_at);
  size_t at = quote_at + (triple ? 3 : 1);
  while (at < text_.size()) {
    char c = text_[at];
    if (c == '\\') {
      // A backslash keeps the next character (or line ending) inside the string, in raw
      // strings too.
      size_t ending = end_of_line_length(at + 1);
      at += ending > 0 ? 1 + ending : 2;
      continue;
    }
    if (triple) {
      if (three_quotes_at(at)) return at + 3;
    } else {
      if (c == quote) return at + 1;
      if (c == '\n' || end_of_line_length(at) == 2) break;
    }
    ++at;
  }
  size_t start_line = line_of_offset(source_.lines, token_begin);
  return apply_error(location(file_, start_line) +
                     "unterminated string literal, expected a closing " +
                     (triple ? std::string(3, quote) : std::string(1, quote)));
}

size_t Scanner::scan_number(size_t at) const {
  size_t begin = at;
  bool hex =
      text_.size() > at + 1 && text_[at] == '0' && (text_[at + 1] == 'x' || text_[at + 1] == 'X');
  while (at < text_.size()) {
    auto c = static_cast<unsigned char>(text_[at]);
    if (is_name_char(c) || c == '.') {
      ++at;
      continue;
    }
    bool exponent_sign = (c == '+' || c == '-') && !hex && at > begin &&
                         (text_[at - 1] == 'e' || text_[at - 1] == 'E');
    if (exponent_sign) {
      ++at;
      continue;
    }
    break;
  }
  return at;
}

size_t Scanner::scan_operator(size_t at) const {
  // Compares characters directly: this runs for every operator of the file.
  char c = text_[at];
  char next = at + 1 < text_.size() ? text_[at + 1] : '\0';
  char third = at + 2 < text_.size() ? text_[at + 2] : '\0';
  bool doubled = next == c && (c == '*' || c == '/' || c == '<' || c == '>');
  if ((doubled && third == '=') || (c == '.' && next == '.' && third == '.')) return at + 3;
  if (doubled || (c == '-' && next == '>')) return at + 2;
  if (next == '=' && std::string_view("=!<>+-*/%&|^@:").find(c) != std::string_view::npos)
    return at + 2;
  return at + 1;
}

Result<PythonSource> Scanner::run() {
  source_.text = text_;
  source_.lines = split_lines(text_);
  // Estimates that avoid regrowing the largest vectors: Python source averages well over
  // 4 bytes a token, and has fewer statements than lines.
  source_.tokens.reserve(text_.size() / 4 + 16);
  source_.statements.reserve(source_.lines.size() + 1);
  token_ranges_.reserve(source_.lines.size() + 1);

  size_t invalid = find_invalid_utf8(text_);
  if (invalid != std::string_view::npos) {
    bool nul = text_[invalid] == '\0';
    return apply_error(location(file_, line_of_offset(source_.lines, invalid)) +
                       (nul ? "NUL byte in the file" : "invalid UTF-8 byte sequence") +
                       ", expected UTF-8 Python source");
  }
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") position_ = 3;  // UTF-8 byte order mark.

  bool at_line_start = true;
  while (position_ < text_.size()) {
    char c = text_[position_];

    if (at_line_start) {
      size_t indent_end = position_;
      size_t width = 0;
      while (indent_end < text_.size()) {
        char space = text_[indent_end];
        if (space == ' ') {
          ++width;
        } else if (space == '\t') {
          width = (width / 8 + 1) * 8;
        } else if (space == '\f') {
          width = 0;
        } else {
          break;
        }
        ++indent_end;
      }
      if (indent_end == text_.size()) break;
      size_t ending = end_of_line_length(indent_end);
      if (ending > 0) {  // Blank line.
        position_ = indent_end + ending;
        ++line_;
        continue;
      }
      if (text_[indent_end] == '#') {
        record_comment(indent_end);
        continue;
      }
      statement_first_token_ = source_.tokens.size();
      current_.first_line = line_;
      current_.indent = text_.substr(position_, indent_end - position_);
      current_.indent_width = width;
      in_statement_ = true;
      at_line_start = false;
      position_ = indent_end;
      continue;
    }

    if (c == ' ' || c == '\t' || c == '\f') {
      ++position_;
      continue;
    }

    size_t ending = end_of_line_length(position_);
    if (ending > 0) {
      if (brackets_.empty()) {
        finish_statement(line_);
        at_line_start = true;
      }
      position_ += ending;
      ++line_;
      continue;
    }
    if (c == '\r') {  // A lone carriage return counts as white space here.
      ++position_;
      continue;
    }
    if (c == '#') {
      record_comment(position_);
      continue;
    }
    if (c == '\\') {
      size_t continued = end_of_line_length(position_ + 1);
      if (continued == 0) {
        return apply_error(location(file_, line_) +
                           "unexpected character after a line-continuation backslash, "
                           "expected the end of the line");
      }
      position_ += 1 + continued;
      ++line_;
      continue;
    }

    size_t token_begin = position_;
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\'') {
      Status added = add_string_token(token_begin, position_);
      if (!added) return added.error();
      continue;
    }
    if (is_name_start(byte)) {
      size_t name_end = position_ + 1;
      while (name_end < text_.size() && is_name_char(static_cast<unsigned char>(text_[name_end])))
        ++name_end;
      std::string_view word = text_.substr(token_begin, name_end - token_begin);
      bool string_follows =
          name_end < text_.size() && (text_[name_end] == '"' || text_[name_end] == '\'');
      if (string_follows && is_string_prefix(word)) {
        Status added = add_string_token(token_begin, name_end);
        if (!added) return added.error();
        continue;
      }
      add_token(TokenKind::name, word);
      position_ = name_end;
      continue;
    }
    if (is_digit(c) ||
        (c == '.' && position_ + 1 < text_.size() && is_digit(text_[position_ + 1]))) {
      size_t number_end = scan_number(position_);
      add_token(TokenKind::number, text_.substr(token_begin, number_end - token_begin));
      position_ = number_end;
      continue;
    }

    size_t op_end = scan_operator(position_);
    if (c == '(' || c == '[' || c == '{') {
      brackets_.push_back({c, line_});
    } else if (c == ')' || c == ']' || c == '}') {
      char opener = c == ')' ? '(' : (c == ']' ? '[' : '{');
      if (brackets_.empty() || brackets_.back().bracket != opener) {
        return apply_error(location(file_, line_) + "unmatched '" + std::string(1, c) +
                           "', expected balanced brackets");
      }
      brackets_.pop_back();
    }
    add_token(TokenKind::op, text_.substr(token_begin, op_end - token_begin));
    position_ = op_end;
  }

  if (!brackets_.empty()) {
    const OpenBracket& open = brackets_.back();
    return apply_error(location(file_, open.line) + "'" + std::string(1, open.bracket) +
                       "' is never closed, expected a matching bracket before the end of the file");
  }
  if (in_statement_) {
    size_t last = source_.lines.empty() ? 0 : source_.lines.size() - 1;
    finish_statement(std::min(line_, last));
  }

  std::vector<LogicalLine>& statements = source_.statements;
  for (size_t i = 0; i < statements.size(); ++i) {
    auto [first, end] = token_ranges_[i];
    statements[i].tokens = TokenRange(source_.tokens.data() + first, end - first);
  }
  source_.extent_end.resize(statements.size());
  for (size_t i = 0; i < statements.size(); ++i) {
    size_t end = i + 1;
    if (statements[i].opens_block()) {
      while (end < statements.size() && statements[end].indent_width > statements[i].indent_width)
        ++end;
    }
    source_.extent_end[i] = end;
  }
  return std::move(source_);
}

}  // namespace

Result<PythonSource> scan_python(std::string_view text, const std::string& file_label) {
  Scanner scanner(text, file_label);
  return scanner.run();
}

std::string normalized_code(const TokenRange& tokens) {
  std::string code;
  for (const Token& token : tokens) {
    if (!code.empty()) code.push_back(' ');
    std::string text(token.text);
    bool plain_single_quoted = token.kind == TokenKind::string && text.size() >= 2 &&
                               text.front() == '\'' && text.back() == '\'' &&
                               text.compare(0, 3, "'''") != 0 &&
                               text.find('"') == std::string::npos;
    if (plain_single_quoted) {
      text.front() = '"';
      text.back() = '"';
    }
    code += text;
  }
  return code;
}

std::string normalize_snippet(std::string_view code) {
  Result<PythonSource> source = scan_python(code, "<snippet>");
  if (!source || source->statements.size() != 1) return "";
  return normalized_code(source->statements.front().tokens);
}

std::string_view line_ending_of(const PythonSource& source, size_t line) {
  auto ending_of = [&](const PhysicalLine& physical) {
    return source.text.substr(physical.content_end, physical.end - physical.content_end);
  };
  if (line < source.lines.size() && !ending_of(source.lines[line]).empty()) {
    return ending_of(source.lines[line]);
  }
  for (const PhysicalLine& physical : source.lines) {
    if (!ending_of(physical).empty()) return ending_of(physical);
  }
  return "\n";
}

}  // namespace minicpm
