#include "python_patch.h"

#include <optional>

#include "python_scanner.h"

namespace minicpm {
namespace {

constexpr std::string_view kCallTargetPlaceholder = "{call_target}";

// A function found by name: its def statement and the statements of its body.
struct FunctionBody {
  size_t def_statement = 0;
  size_t begin = 0;  // First body statement.
  size_t end = 0;    // Just past the last one.
};

struct CallSite {
  size_t statement;  // The logical line whose tokens contain the call.
  size_t line;       // 0-based physical line of the call's first token.
};

std::string line_number(size_t line) { return std::to_string(line + 1); }

bool is_def(const LogicalLine& statement, size_t* name_index) {
  const TokenRange& tokens = statement.tokens;
  size_t at = (tokens.size() > 1 && tokens[0].text == "async") ? 1 : 0;
  if (tokens.size() > at + 1 && tokens[at].text == "def") {
    if (name_index != nullptr) *name_index = at + 1;
    return true;
  }
  return false;
}

bool is_class(const LogicalLine& statement) {
  return statement.tokens.size() > 1 && statement.tokens[0].text == "class";
}

// Finds every def of `name` that is not nested in another function and, when class_name is
// given, sits directly in that class.
std::vector<FunctionBody> find_functions(const PythonSource& source, const std::string& name,
                                         const std::string& class_name) {
  struct Scope {
    size_t indent_width;
    bool is_class;
    std::string_view name;
  };
  std::vector<Scope> scopes;
  std::vector<FunctionBody> found;

  for (size_t i = 0; i < source.statements.size(); ++i) {
    const LogicalLine& statement = source.statements[i];
    while (!scopes.empty() && scopes.back().indent_width >= statement.indent_width)
      scopes.pop_back();
    if (!statement.opens_block()) continue;

    size_t name_index = 0;
    if (is_def(statement, &name_index)) {
      bool inside_function = false;
      for (const Scope& scope : scopes) inside_function = inside_function || !scope.is_class;
      bool class_matches = class_name.empty() || (!scopes.empty() && scopes.back().is_class &&
                                                  scopes.back().name == class_name);
      if (statement.tokens[name_index].text == name && !inside_function && class_matches &&
          source.extent_end[i] > i + 1) {
        found.push_back({i, i + 1, source.extent_end[i]});
      }
      scopes.push_back({statement.indent_width, false, statement.tokens[name_index].text});
    } else if (is_class(statement)) {
      scopes.push_back({statement.indent_width, true, statement.tokens[1].text});
    }
  }
  return found;
}

// Finds `a.b(` token runs in the function body, skipping nested functions and classes.
std::vector<CallSite> find_calls(const PythonSource& source, const FunctionBody& body,
                                 const std::string& dotted_call) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (;;) {
    size_t dot = dotted_call.find('.', begin);
    parts.push_back(
        dotted_call.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin));
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }

  std::vector<CallSite> calls;
  size_t i = body.begin;
  while (i < body.end) {
    const LogicalLine& statement = source.statements[i];
    if (is_def(statement, nullptr) || is_class(statement)) {
      i = source.extent_end[i];
      continue;
    }
    const TokenRange& tokens = statement.tokens;
    size_t pattern_size = parts.size() * 2;  // name . name ... name (
    for (size_t t = 0; t + pattern_size <= tokens.size(); ++t) {
      if (t > 0 && tokens[t - 1].text == ".") continue;
      bool match = true;
      for (size_t p = 0; p < parts.size() && match; ++p) {
        match = tokens[t + 2 * p].kind == TokenKind::name && tokens[t + 2 * p].text == parts[p];
        std::string_view separator = p + 1 < parts.size() ? "." : "(";
        match = match && tokens[t + 2 * p + 1].text == separator;
      }
      if (match) calls.push_back({i, tokens[t].line});
    }
    ++i;
  }
  return calls;
}

// Returns the function-body statement whose extent contains statement `inner`.
size_t body_statement_containing(const PythonSource& source, const FunctionBody& body,
                                 size_t inner) {
  size_t k = body.begin;
  while (k < body.end && source.extent_end[k] <= inner) k = source.extent_end[k];
  return k;
}

// The first name that the statement assigns, as in `res, outputs = self.generate(...)`.
std::optional<std::string> assignment_target(const LogicalLine& statement) {
  int depth = 0;
  std::optional<std::string> first_name;
  for (const Token& token : statement.tokens) {
    if (token.text == "(" || token.text == "[" || token.text == "{") ++depth;
    if (token.text == ")" || token.text == "]" || token.text == "}") --depth;
    if (!first_name && token.kind == TokenKind::name) first_name = std::string(token.text);
    if (depth == 0 && token.text == "=") return first_name;
  }
  return std::nullopt;
}

bool starts_with_tokens(const std::string& code, const std::string& prefix) {
  return code.compare(0, prefix.size(), prefix) == 0 &&
         (code.size() == prefix.size() || code[prefix.size()] == ' ');
}

bool block_matches_shape(const PythonSource& source, size_t header, const UpstreamFixShape& shape) {
  std::string code = normalized_code(source.statements[header].tokens);
  if (code == shape.statement) {
    for (size_t i = header + 1; i < source.extent_end[header]; ++i) {
      if (starts_with_tokens(normalized_code(source.statements[i].tokens), shape.contains))
        return true;
    }
    return false;
  }
  // A one-line compound statement, as in `if stream: return res`.
  return starts_with_tokens(code, shape.statement) &&
         starts_with_tokens(code.substr(shape.statement.size() + 1), shape.contains);
}

bool matches_upstream_fix(const PythonSource& source, const FunctionBody& body,
                          const UpstreamFixShape& shape) {
  if (!shape.unless_call.empty() && !find_calls(source, body, shape.unless_call).empty())
    return false;
  std::vector<CallSite> calls = find_calls(source, body, shape.call);
  if (calls.size() != 1) return false;
  size_t holder = body_statement_containing(source, body, calls.front().statement);

  if (shape.position == UpstreamFixShape::Position::after) {
    size_t next = source.extent_end[holder];
    return next < body.end &&
           source.statements[next].indent_width == source.statements[body.begin].indent_width &&
           block_matches_shape(source, next, shape);
  }
  for (size_t k = body.begin; k < holder; k = source.extent_end[k]) {
    if (block_matches_shape(source, k, shape)) return true;
  }
  return false;
}

std::string_view content_of(const PythonSource& source, size_t line) {
  const PhysicalLine& physical = source.lines[line];
  return source.text.substr(physical.begin, physical.content_end - physical.begin);
}

// The marker comment's lines: comments that start with "# PATCH: <id>".
std::vector<size_t> find_marker_lines(const PythonSource& source, const std::string& patch_id) {
  std::string prefix = "PATCH: " + patch_id;
  std::vector<size_t> lines;
  for (const Comment& comment : source.comments) {
    std::string_view text = comment.text.substr(1);
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    if (text.compare(0, prefix.size(), prefix) != 0) continue;
    if (text.size() == prefix.size() || text[prefix.size()] == ':' || text[prefix.size()] == ' ') {
      lines.push_back(comment.line);
    }
  }
  return lines;
}

std::string replace_all(std::string text, std::string_view from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Renders the marker and the patch's lines at the insertion point's indentation, with one
// indentation unit of the file for each 4 leading spaces in the recipe.
std::vector<std::string> render_block(const Patch& patch, const PythonInsertPatch& insert,
                                      std::string_view indent, std::string_view unit,
                                      const std::string& call_target) {
  std::vector<std::string> block;
  block.push_back(std::string(indent) + "# " + patch.marker());
  for (const std::string& line : insert.lines) {
    size_t spaces = line.find_first_not_of(' ');
    if (spaces == std::string::npos) spaces = line.size();
    std::string rendered(indent);
    for (size_t level = 0; level < spaces / 4; ++level) rendered += unit;
    rendered += std::string(spaces % 4, ' ');
    rendered += replace_all(line.substr(spaces), kCallTargetPlaceholder, call_target);
    block.push_back(rendered);
  }
  return block;
}

TextEvaluation drifted(std::string detail) { return {PatchState::drifted, std::move(detail), ""}; }

std::string list_lines(const std::vector<size_t>& lines) {
  std::string list;
  for (size_t line : lines) list += (list.empty() ? "" : ", ") + line_number(line);
  return list;
}

}  // namespace

TextEvaluation evaluate_python_patch(const Patch& patch, std::string_view text,
                                     const std::string& file_label) {
  return evaluate_python_patch(patch, scan_python(text, file_label), text, file_label);
}

TextEvaluation evaluate_python_patch(const Patch& patch, const Result<PythonSource>& scanned,
                                     std::string_view text, const std::string& file_label) {
  const auto& insert = std::get<PythonInsertPatch>(patch.action);
  if (!scanned) return drifted(scanned.error().message);
  const PythonSource& source = *scanned;

  std::string function_label = insert.function + "()";
  if (!insert.class_name.empty()) function_label = insert.class_name + "." + function_label;
  std::vector<FunctionBody> functions = find_functions(source, insert.function, insert.class_name);
  if (functions.empty()) {
    return drifted(file_label + ": no function " + function_label + " found, expected exactly one");
  }
  if (functions.size() > 1) {
    std::vector<size_t> lines;
    for (const FunctionBody& function : functions)
      lines.push_back(source.statements[function.def_statement].first_line);
    return drifted(file_label + ":" + line_number(lines.front()) + ": " + function_label +
                   " is defined " + std::to_string(functions.size()) + " times (lines " +
                   list_lines(lines) +
                   "), expected exactly one; name its class in the recipe's \"class\"");
  }
  const FunctionBody& body = functions.front();
  size_t def_line = source.statements[body.def_statement].first_line;

  std::vector<CallSite> calls = find_calls(source, body, insert.call);
  std::vector<size_t> markers = find_marker_lines(source, patch.id);

  // Insertion point and rendered block, known when the anchor is unique.
  std::optional<size_t> insert_line;
  std::vector<std::string> block;
  std::string call_target;
  bool needs_target = false;
  for (const std::string& line : insert.lines)
    needs_target = needs_target || line.find(kCallTargetPlaceholder) != std::string::npos;
  if (calls.size() == 1) {
    size_t call_statement = calls.front().statement;
    const LogicalLine* anchor = &source.statements[call_statement];
    if (insert.position == PythonInsertPatch::Position::after_body_statement) {
      size_t holder = body_statement_containing(source, body, call_statement);
      anchor = &source.statements[holder];
      insert_line = source.statements[source.extent_end[holder] - 1].last_line + 1;
    } else {
      insert_line = anchor->first_line;
    }
    std::string_view def_indent = source.statements[body.def_statement].indent;
    std::string_view body_indent = source.statements[body.begin].indent;
    std::string_view unit = "    ";
    if (body_indent.size() > def_indent.size() &&
        body_indent.compare(0, def_indent.size(), def_indent) == 0) {
      unit = body_indent.substr(def_indent.size());
    }
    std::optional<std::string> target = assignment_target(source.statements[call_statement]);
    call_target = target.value_or("");
    block = render_block(patch, insert, anchor->indent, unit, call_target);
  }

  if (insert_line) {
    size_t first =
        insert.position == PythonInsertPatch::Position::after_body_statement
            ? *insert_line
            : (*insert_line >= block.size() ? *insert_line - block.size() : source.lines.size());
    bool marker_in_place = first < source.lines.size() &&
                           std::find(markers.begin(), markers.end(), first) != markers.end();
    if (marker_in_place) {
      bool block_intact = first + block.size() <= source.lines.size();
      for (size_t i = 1; i < block.size() && block_intact; ++i) {
        block_intact = content_of(source, first + i) == block[i];
      }
      if (!block_intact) {
        return drifted(
            file_label + ":" + line_number(first) + ": the block after the marker of " + patch.id +
            " was edited, expected the lines that apply writes; run revert or restore the file");
      }
      if (markers.size() > 1) {
        return drifted(file_label + ":" + line_number(first) + ": the marker of " + patch.id +
                       " appears " + std::to_string(markers.size()) + " times (lines " +
                       list_lines(markers) + "), expected once");
      }
      return {PatchState::applied, file_label + ":" + line_number(first), ""};
    }
  }
  if (!markers.empty()) {
    std::string expected =
        insert_line ? "line " + line_number(*insert_line) : "next to the " + insert.call + "( call";
    return drifted(file_label + ":" + line_number(markers.front()) + ": the marker of " + patch.id +
                   " is not in the located place, expected it at " + expected);
  }

  for (const UpstreamFixShape& shape : insert.upstream_fixes) {
    if (matches_upstream_fix(source, body, shape)) {
      return {PatchState::upstream_fixed,
              file_label + ": " + function_label + " already contains the fix", ""};
    }
  }

  if (calls.empty()) {
    return drifted(file_label + ":" + line_number(def_line) + ": no call to " + insert.call +
                   "( in " + function_label + ", expected exactly one");
  }
  if (calls.size() > 1) {
    std::vector<size_t> lines;
    for (const CallSite& call : calls) lines.push_back(call.line);
    return drifted(file_label + ":" + line_number(lines.front()) + ": " + insert.call +
                   "( is called " + std::to_string(calls.size()) + " times in " + function_label +
                   " (lines " + list_lines(lines) + "), expected exactly one call");
  }
  if (needs_target && call_target.empty()) {
    return drifted(
        file_label + ":" + line_number(calls.front().line) + ": the result of " + insert.call +
        "( is not assigned to a name, expected an assignment such as `res = " + insert.call +
        "(...)`");
  }

  // Pending: insert the block before physical line *insert_line.
  std::string_view ending = line_ending_of(source, *insert_line > 0 ? *insert_line - 1 : 0);
  std::string patched;
  size_t offset =
      *insert_line < source.lines.size() ? source.lines[*insert_line].begin : text.size();
  patched.reserve(text.size() + 256);
  patched.append(text.substr(0, offset));
  if (offset == text.size() && !text.empty() && text.back() != '\n') patched.append(ending);
  for (const std::string& line : block) {
    patched.append(line);
    patched.append(ending);
  }
  patched.append(text.substr(offset));
  return {PatchState::pending,
          file_label + ":" + line_number(*insert_line) + ": inserts " +
              std::to_string(block.size()) + " lines",
          std::move(patched)};
}

}  // namespace minicpm
