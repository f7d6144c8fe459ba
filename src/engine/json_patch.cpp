#include "json_patch.h"

#include <nlohmann/json.hpp>

namespace minicpm {
namespace {

using nlohmann::json;

constexpr size_t kMaxDepth = 256;

std::string position_of(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t line_begin = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_begin = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(offset - line_begin + 1);
}

class JsonParser {
 public:
  JsonParser(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  Result<JsonDocument> run() {
    skip_space();
    Result<size_t> root = parse_value(0);
    if (!root) return root.error();
    skip_space();
    if (at_ < text_.size())
      return fail("unexpected text after the top-level value", "the end of the file");
    return std::move(document_);
  }

 private:
  Error fail(const std::string& what, const std::string& expected) const {
    return apply_error(file_ + ":" + position_of(text_, at_) + ": invalid JSON: " + what +
                       ", expected " + expected);
  }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }

  size_t add_node(JsonNode::Type type, size_t begin) {
    JsonNode node;
    node.type = type;
    node.begin = begin;
    document_.nodes.push_back(node);
    return document_.nodes.size() - 1;
  }

  Result<std::string> parse_string() {
    std::string value;
    ++at_;  // Opening quote.
    while (at_ < text_.size()) {
      auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        ++at_;
        return value;
      }
      if (c < 0x20) return fail("control character inside a string", "an escape such as \\n");
      if (c == '\\') {
        if (at_ + 1 >= text_.size()) break;
        char escape = text_[at_ + 1];
        if (escape == 'u') {
          for (size_t k = 2; k < 6; ++k) {
            if (at_ + k >= text_.size() ||
                !std::isxdigit(static_cast<unsigned char>(text_[at_ + k]))) {
              at_ += 1;
              return fail("invalid \\u escape", "four hex digits");
            }
          }
          value.append(text_.substr(at_, 6));
          at_ += 6;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(escape) == std::string_view::npos) {
          ++at_;
          return fail("invalid escape '\\" + std::string(1, escape) + "'",
                      "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u");
        }
        value.push_back(escape == '"' || escape == '\\' || escape == '/' ? escape : '?');
        at_ += 2;
        continue;
      }
      value.push_back(static_cast<char>(c));
      ++at_;
    }
    return fail("unterminated string", "a closing '\"'");
  }

  Status parse_number() {
    size_t begin = at_;
    if (text_[at_] == '-') ++at_;
    auto digit = [&](size_t i) { return i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; };
    if (!digit(at_)) return fail("invalid number", "a digit");
    if (text_[at_] == '0') {
      ++at_;
    } else {
      while (digit(at_)) ++at_;
    }
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      if (!digit(at_)) return fail("invalid number", "a digit after '.'");
      while (digit(at_)) ++at_;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      if (!digit(at_)) return fail("invalid number", "a digit in the exponent");
      while (digit(at_)) ++at_;
    }
    if (at_ == begin) return fail("invalid number", "a digit");
    return Done{};
  }

  Result<size_t> parse_value(size_t depth) {
    if (depth > kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels",
                  "a shallower document");
    if (at_ >= text_.size()) return fail("unexpected end of the file", "a value");
    size_t begin = at_;
    char c = text_[at_];
    if (c == '{') return parse_container(depth, true);
    if (c == '[') return parse_container(depth, false);
    if (c == '"') {
      size_t node = add_node(JsonNode::Type::string, begin);
      Result<std::string> value = parse_string();
      if (!value) return value.error();
      document_.nodes[node].end = at_;
      return node;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t node = add_node(JsonNode::Type::number, begin);
      Status number = parse_number();
      if (!number) return number.error();
      document_.nodes[node].end = at_;
      return node;
    }
    for (auto [word, type] :
         {std::pair<std::string_view, JsonNode::Type>{"true", JsonNode::Type::boolean},
          {"false", JsonNode::Type::boolean},
          {"null", JsonNode::Type::null}}) {
      if (text_.substr(at_, word.size()) == word) {
        size_t node = add_node(type, begin);
        at_ += word.size();
        document_.nodes[node].end = at_;
        return node;
      }
    }
    return fail("unexpected character '" + std::string(1, c) + "'", "a value");
  }

  Result<size_t> parse_container(size_t depth, bool is_object) {
    size_t node = add_node(is_object ? JsonNode::Type::object : JsonNode::Type::array, at_);
    char close = is_object ? '}' : ']';
    ++at_;
    skip_space();
    if (at_ < text_.size() && text_[at_] == close) {
      ++at_;
      document_.nodes[node].end = at_;
      return node;
    }
    for (;;) {
      std::string key;
      size_t key_begin = at_;
      if (is_object) {
        if (at_ >= text_.size() || text_[at_] != '"')
          return fail("missing member name", "a string in double quotes");
        Result<std::string> name = parse_string();
        if (!name) return name.error();
        key = *name;
        skip_space();
        if (at_ >= text_.size() || text_[at_] != ':')
          return fail("missing ':' after a member name", "':'");
        ++at_;
        skip_space();
      }
      Result<size_t> child = parse_value(depth + 1);
      if (!child) return child.error();
      document_.nodes[*child].key = key;
      document_.nodes[*child].key_begin = key_begin;
      document_.nodes[node].children.push_back(*child);
      skip_space();
      if (at_ < text_.size() && text_[at_] == ',') {
        ++at_;
        skip_space();
        continue;
      }
      if (at_ < text_.size() && text_[at_] == close) {
        ++at_;
        document_.nodes[node].end = at_;
        return node;
      }
      return fail(at_ >= text_.size() ? "unexpected end of the file"
                                      : "missing ',' or '" + std::string(1, close) + "'",
                  "',' or '" + std::string(1, close) + "'");
    }
  }

  std::string_view text_;
  const std::string& file_;
  size_t at_ = 0;
  JsonDocument document_;
};

const char* type_name(JsonNode::Type type) {
  switch (type) {
    case JsonNode::Type::object:
      return "an object";
    case JsonNode::Type::array:
      return "an array";
    case JsonNode::Type::string:
      return "a string";
    case JsonNode::Type::number:
      return "a number";
    case JsonNode::Type::boolean:
      return "a boolean";
    case JsonNode::Type::null:
      return "null";
  }
  return "a value";
}

std::string dotted(const std::vector<std::string>& path, size_t count) {
  std::string text;
  for (size_t i = 0; i < count; ++i) text += (i ? "." : "") + path[i];
  return text;
}

size_t line_start(std::string_view text, size_t offset) {
  size_t newline = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  return (newline == std::string_view::npos || offset == 0) ? 0 : newline + 1;
}

std::string_view leading_space(std::string_view text, size_t offset) {
  size_t begin = line_start(text, offset);
  size_t end = begin;
  while (end < text.size() && (text[end] == ' ' || text[end] == '\t')) ++end;
  return text.substr(begin, end - begin);
}

// Renders value in the style of the file around the member at `member`.
std::string render_value(std::string_view text, const JsonDocument& document, size_t parent,
                         size_t member, const json& value) {
  const JsonNode& parent_node = document.nodes[parent];
  const JsonNode& member_node = document.nodes[member];
  std::string_view between =
      text.substr(parent_node.begin, member_node.key_begin - parent_node.begin);
  bool multi_line = between.find('\n') != std::string_view::npos;

  if (!value.is_array() || value.empty()) return value.dump();
  if (!multi_line) {
    std::string_view after_colon =
        text.substr(member_node.key_begin, member_node.begin - member_node.key_begin);
    std::string separator = after_colon.find(' ') != std::string_view::npos ? ", " : ",";
    std::string rendered = "[";
    for (size_t i = 0; i < value.size(); ++i) rendered += (i ? separator : "") + value[i].dump();
    return rendered + "]";
  }

  std::string_view member_indent = leading_space(text, member_node.key_begin);
  std::string_view parent_indent = leading_space(text, parent_node.begin);
  std::string unit = "  ";
  if (member_indent.size() > parent_indent.size() &&
      member_indent.compare(0, parent_indent.size(), parent_indent) == 0) {
    unit = std::string(member_indent.substr(parent_indent.size()));
  }
  size_t newline = text.find('\n', member_node.key_begin);
  std::string ending =
      (newline != std::string_view::npos && newline > 0 && text[newline - 1] == '\r') ? "\r\n"
                                                                                      : "\n";

  std::string rendered = "[" + ending;
  for (size_t i = 0; i < value.size(); ++i) {
    rendered += std::string(member_indent) + unit + value[i].dump() +
                (i + 1 < value.size() ? "," : "") + ending;
  }
  return rendered + std::string(member_indent) + "]";
}

TextEvaluation drifted(std::string detail) { return {PatchState::drifted, std::move(detail), ""}; }

std::string shorten(std::string text) {
  constexpr size_t kMaxShown = 200;
  if (text.size() > kMaxShown) text = text.substr(0, kMaxShown) + "...";
  return text;
}

}  // namespace

Result<JsonDocument> parse_json_document(std::string_view text, const std::string& file_label) {
  JsonParser parser(text, file_label);
  return parser.run();
}

TextEvaluation evaluate_json_patch(const Patch& patch, std::string_view text,
                                   const std::string& file_label) {
  const auto& change = std::get<JsonValuePatch>(patch.action);
  Result<JsonDocument> parsed = parse_json_document(text, file_label);
  if (!parsed) return drifted(parsed.error().message);
  const JsonDocument& document = *parsed;

  size_t node = 0;
  size_t parent = 0;
  for (size_t depth = 0; depth < change.path.size(); ++depth) {
    const JsonNode& current = document.nodes[node];
    std::string where = depth == 0 ? "the top-level value" : dotted(change.path, depth);
    if (current.type != JsonNode::Type::object) {
      return drifted(file_label + ":" + position_of(text, current.begin) + ": " + where + " is " +
                     type_name(current.type) + ", expected an object holding \"" +
                     change.path[depth] + "\"");
    }
    std::vector<size_t> matches;
    for (size_t child : current.children) {
      if (document.nodes[child].key == change.path[depth]) matches.push_back(child);
    }
    if (matches.empty()) {
      return drifted(file_label + ":" + position_of(text, current.begin) + ": " +
                     dotted(change.path, depth + 1) + " is missing, expected it to be " +
                     change.expected.dump());
    }
    if (matches.size() > 1) {
      return drifted(file_label + ":" + position_of(text, document.nodes[matches[1]].key_begin) +
                     ": duplicate key " + dotted(change.path, depth + 1) + " (" +
                     std::to_string(matches.size()) + " times), expected it once");
    }
    parent = node;
    node = matches.front();
  }

  const JsonNode& target_node = document.nodes[node];
  std::string location = file_label + ":" + position_of(text, target_node.begin);
  json current_value;
  json original;
  try {
    current_value =
        json::parse(text.substr(target_node.begin, target_node.end - target_node.begin));
    original = json::parse(text);
  } catch (const json::exception& error) {
    return drifted(location + ": the value cannot be read: " + error.what());
  }
  if (current_value == change.target) return {PatchState::applied, location, ""};
  if (current_value != change.expected) {
    return drifted(location + ": " + dotted(change.path, change.path.size()) + " is " +
                   shorten(current_value.dump()) + ", expected " + change.expected.dump() +
                   " (upstream) or the patched value");
  }

  std::string patched(text.substr(0, target_node.begin));
  patched += render_value(text, document, parent, node, change.target);
  patched += text.substr(target_node.end);

  // Check the edit: the new text must parse to the original document with just this value changed.
  json intended = original;
  json::json_pointer pointer;
  for (const std::string& key : change.path) pointer /= key;
  intended[pointer] = change.target;
  try {
    if (json::parse(patched) != intended) {
      return drifted(
          location +
          ": the edited file does not parse to the intended document; nothing was written");
    }
  } catch (const json::exception& error) {
    return drifted(location + ": the edited file is not valid JSON (" + std::string(error.what()) +
                   "); nothing was written");
  }
  return {PatchState::pending, location + ": replaces " + current_value.dump(), std::move(patched)};
}

}  // namespace minicpm
