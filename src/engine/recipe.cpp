#include "recipe.h"

#include <sys/stat.h>

#include <set>

#include "file_io.h"
#include "python_scanner.h"

namespace minicpm {

// Defined in the generated builtin_recipes.cpp: the JSON text of each built-in recipe.
extern const char* const kBuiltinRecipeTexts[];
extern const size_t kBuiltinRecipeCount;

namespace {

using nlohmann::json;

// Validates one JSON object of a recipe, naming the recipe file and the key in every error.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string where, const std::string& origin)
      : object_(object), where_(std::move(where)), origin_(origin) {}

  // Returns an error for the first key that no read asked for.
  Status reject_unknown_keys() const {
    for (const auto& item : object_.items()) {
      if (read_keys_.count(item.key()) == 0) {
        return fail(item.key(), "unknown key, expected one of: " + known_keys());
      }
    }
    return Done{};
  }

  Result<std::string> string(const std::string& key, bool required = true) {
    read_keys_.insert(key);
    if (!object_.contains(key)) {
      if (required) return fail(key, "missing, expected a string");
      return std::string();
    }
    const json& value = object_.at(key);
    if (!value.is_string()) return fail(key, "expected a string, got " + value.dump());
    return value.get<std::string>();
  }

  Result<std::vector<std::string>> strings(const std::string& key, bool required = true) {
    read_keys_.insert(key);
    if (!object_.contains(key)) {
      if (required) return fail(key, "missing, expected an array of strings");
      return std::vector<std::string>();
    }
    const json& value = object_.at(key);
    if (!value.is_array()) return fail(key, "expected an array of strings, got " + value.dump());
    std::vector<std::string> result;
    for (const json& item : value) {
      if (!item.is_string()) return fail(key, "expected an array of strings, got " + item.dump());
      result.push_back(item.get<std::string>());
    }
    return result;
  }

  Result<const json*> any(const std::string& key, bool required = true) {
    read_keys_.insert(key);
    if (!object_.contains(key)) {
      if (required) return fail(key, "missing");
      return static_cast<const json*>(nullptr);
    }
    return &object_.at(key);
  }

  Error fail(const std::string& key, const std::string& what) const {
    return usage_error(origin_ + ": " + where_ + (where_.empty() ? "" : ".") + key + ": " + what);
  }

 private:
  std::string known_keys() const {
    std::string list;
    for (const std::string& key : read_keys_) list += (list.empty() ? "" : ", ") + key;
    return list;
  }

  const json& object_;
  std::string where_;
  const std::string& origin_;
  std::set<std::string> read_keys_;
};

// A relative path that stays inside the model folder: no leading '/', no "..", no empty part.
bool is_contained_path(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos) return false;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t slash = path.find('/', begin);
    std::string part =
        path.substr(begin, slash == std::string::npos ? std::string::npos : slash - begin);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) break;
    begin = slash + 1;
  }
  return true;
}

Result<std::vector<UpstreamFixShape>> parse_upstream_fixes(const json& list,
                                                           const std::string& where,
                                                           const std::string& origin) {
  std::vector<UpstreamFixShape> shapes;
  if (!list.is_array()) {
    return usage_error(origin + ": " + where + ": expected an array of objects, got " +
                       list.dump());
  }
  for (size_t i = 0; i < list.size(); ++i) {
    std::string item_where = where + "[" + std::to_string(i) + "]";
    if (!list[i].is_object()) {
      return usage_error(origin + ": " + item_where + ": expected an object, got " +
                         list[i].dump());
    }
    ObjectReader reader(list[i], item_where, origin);
    UpstreamFixShape shape;
    Result<std::string> position = reader.string("position");
    if (!position) return position.error();
    if (*position == "after") {
      shape.position = UpstreamFixShape::Position::after;
    } else if (*position == "before") {
      shape.position = UpstreamFixShape::Position::before;
    } else {
      return reader.fail("position", "expected \"after\" or \"before\", got \"" + *position + "\"");
    }
    Result<std::string> call = reader.string("call", false);
    Result<std::string> statement = reader.string("statement");
    Result<std::string> contains = reader.string("contains");
    Result<std::string> unless_call = reader.string("unless_call", false);
    for (const auto* field : {&call, &statement, &contains, &unless_call}) {
      if (!*field) return field->error();
    }
    shape.call = *call;
    shape.statement = normalize_snippet(*statement);
    shape.contains = normalize_snippet(*contains);
    shape.unless_call = *unless_call;
    if (shape.statement.empty()) return reader.fail("statement", "expected one line of Python");
    if (shape.contains.empty()) return reader.fail("contains", "expected one line of Python");
    Status unknown = reader.reject_unknown_keys();
    if (!unknown) return unknown.error();
    shapes.push_back(shape);
  }
  return shapes;
}

Result<PythonInsertPatch> parse_python_insert(ObjectReader& reader, const std::string& where,
                                              const std::string& origin) {
  PythonInsertPatch patch;
  Result<std::string> function = reader.string("function");
  Result<std::string> class_name = reader.string("class", false);
  Result<std::string> call = reader.string("call");
  Result<std::string> position = reader.string("position");
  Result<std::vector<std::string>> lines = reader.strings("lines");
  Result<const json*> upstream = reader.any("upstream_fix", false);
  for (const auto* field : {&function, &class_name, &call, &position}) {
    if (!*field) return field->error();
  }
  if (!lines) return lines.error();
  if (!upstream) return upstream.error();

  patch.function = *function;
  patch.class_name = *class_name;
  patch.call = *call;
  if (*position == "after-body-statement") {
    patch.position = PythonInsertPatch::Position::after_body_statement;
  } else if (*position == "before-statement") {
    patch.position = PythonInsertPatch::Position::before_statement;
  } else {
    return reader.fail(
        "position",
        "expected \"after-body-statement\" or \"before-statement\", got \"" + *position + "\"");
  }
  if (lines->empty()) return reader.fail("lines", "expected at least one line");
  for (const std::string& line : *lines) {
    if (line.find_first_of("\r\n") != std::string::npos) {
      return reader.fail("lines",
                         "expected one line per item, got a line break inside \"" + line + "\"");
    }
  }
  patch.lines = *lines;
  if (*upstream != nullptr) {
    Result<std::vector<UpstreamFixShape>> shapes =
        parse_upstream_fixes(**upstream, where + ".upstream_fix", origin);
    if (!shapes) return shapes.error();
    for (UpstreamFixShape& shape : *shapes) {
      if (shape.call.empty()) shape.call = patch.call;
    }
    patch.upstream_fixes = *shapes;
  }
  return patch;
}

Result<JsonValuePatch> parse_json_value(ObjectReader& reader) {
  JsonValuePatch patch;
  Result<std::vector<std::string>> path = reader.strings("path");
  Result<const json*> expected = reader.any("expected");
  Result<const json*> target = reader.any("value");
  if (!path) return path.error();
  if (!expected) return expected.error();
  if (!target) return target.error();
  if (path->empty()) return reader.fail("path", "expected at least one key");
  patch.path = *path;
  patch.expected = **expected;
  patch.target = **target;
  if (patch.expected == patch.target)
    return reader.fail("value", "equals \"expected\", expected a change");
  return patch;
}

Result<CopyDirectoryPatch> parse_copy_directory(ObjectReader& reader, const std::string& folder) {
  CopyDirectoryPatch patch;
  patch.directory = folder;
  Result<std::vector<std::string>> required = reader.strings("required");
  Result<std::string> suffix = reader.string("source_suffix", false);
  Result<std::string> fetch = reader.string("fetch_command", false);
  if (!required) return required.error();
  if (!suffix) return suffix.error();
  if (!fetch) return fetch.error();
  for (const std::string& path : *required) {
    if (!is_contained_path(path)) {
      return reader.fail("required",
                         "\"" + path + "\" leaves the folder, expected a relative path inside it");
    }
  }
  patch.required = *required;
  patch.source_suffix = *suffix;
  patch.fetch_command = *fetch;
  return patch;
}

Result<Patch> parse_patch(const json& object, size_t index, const std::string& origin) {
  std::string where = "patches[" + std::to_string(index) + "]";
  if (!object.is_object()) return usage_error(origin + ": " + where + ": expected an object");
  ObjectReader reader(object, where, origin);

  Patch patch;
  Result<std::string> id = reader.string("id");
  Result<std::string> kind = reader.string("kind");
  Result<std::string> file = reader.string("file");
  Result<std::string> description = reader.string("description");
  for (const auto* field : {&id, &kind, &file, &description}) {
    if (!*field) return field->error();
  }
  patch.id = *id;
  patch.file = *file;
  patch.description = *description;
  if (patch.id.empty() || patch.id.find_first_of(" \t:/") != std::string::npos) {
    return reader.fail("id",
                       "\"" + patch.id + "\" is not a valid id, expected letters, digits and '-'");
  }
  if (!is_contained_path(patch.file)) {
    return reader.fail(
        "file",
        "\"" + patch.file +
            "\" is absolute or leaves the model folder, expected a relative path inside it");
  }

  if (*kind == "python-insert") {
    Result<PythonInsertPatch> action = parse_python_insert(reader, where, origin);
    if (!action) return action.error();
    patch.action = *action;
  } else if (*kind == "json-value") {
    Result<JsonValuePatch> action = parse_json_value(reader);
    if (!action) return action.error();
    patch.action = *action;
  } else if (*kind == "copy-directory") {
    Result<CopyDirectoryPatch> action = parse_copy_directory(reader, patch.file);
    if (!action) return action.error();
    patch.action = *action;
  } else {
    return reader.fail(
        "kind",
        "expected \"python-insert\", \"json-value\" or \"copy-directory\", got \"" + *kind + "\"");
  }
  Status unknown = reader.reject_unknown_keys();
  if (!unknown) return unknown.error();
  return patch;
}

Result<DetectRule> parse_detect(const json& object, const std::string& origin) {
  if (!object.is_object()) return usage_error(origin + ": detect: expected an object");
  ObjectReader reader(object, "detect", origin);
  DetectRule rule;
  Result<std::vector<std::string>> files = reader.strings("files");
  Result<std::vector<std::string>> config_path = reader.strings("config_path", false);
  Result<const json*> config_value = reader.any("config_value", false);
  if (!files) return files.error();
  if (!config_path) return config_path.error();
  if (!config_value) return config_value.error();
  rule.files = *files;
  rule.config_path = *config_path;
  if (*config_value != nullptr) rule.config_value = **config_value;
  Status unknown = reader.reject_unknown_keys();
  if (!unknown) return unknown.error();
  return rule;
}

}  // namespace

Result<Recipe> parse_recipe(const std::string& json_text, const std::string& origin) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::parse_error& error) {
    return usage_error(origin + ": invalid JSON, expected a recipe object: " + error.what());
  }
  if (!document.is_object()) return usage_error(origin + ": expected a JSON object at the top");

  ObjectReader reader(document, "", origin);
  Recipe recipe;
  recipe.origin = origin;
  Result<std::string> id = reader.string("recipe");
  Result<std::string> description = reader.string("description");
  Result<const json*> detect = reader.any("detect");
  Result<const json*> patches = reader.any("patches");
  if (!id) return id.error();
  if (!description) return description.error();
  if (!detect) return detect.error();
  if (!patches) return patches.error();
  Status unknown = reader.reject_unknown_keys();
  if (!unknown) return unknown.error();

  recipe.id = *id;
  recipe.description = *description;
  Result<DetectRule> rule = parse_detect(**detect, origin);
  if (!rule) return rule.error();
  recipe.detect = *rule;

  if (!(*patches)->is_array() || (*patches)->empty()) {
    return usage_error(origin + ": patches: expected a non-empty array of patch objects");
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < (*patches)->size(); ++i) {
    Result<Patch> patch = parse_patch((**patches)[i], i, origin);
    if (!patch) return patch.error();
    if (!ids.insert(patch->id).second) {
      return usage_error(origin + ": patches[" + std::to_string(i) + "].id: \"" + patch->id +
                         "\" is used twice, expected unique patch ids");
    }
    recipe.patches.push_back(*patch);
  }
  return recipe;
}

Result<Recipe> load_recipe_file(const std::string& path) {
  Result<std::string> text = read_text_file(path);
  if (!text) {
    Error error = text.error();
    error.kind = ErrorKind::usage;
    error.message += " (the --recipe file)";
    return error;
  }
  return parse_recipe(*text, path);
}

const std::vector<Recipe>& builtin_recipes() {
  static const std::vector<Recipe> recipes = [] {
    std::vector<Recipe> loaded;
    for (size_t i = 0; i < kBuiltinRecipeCount; ++i) {
      Result<Recipe> recipe =
          parse_recipe(kBuiltinRecipeTexts[i], "built-in recipe #" + std::to_string(i));
      // The build validates the built-in recipes (a unit test loads each), so this holds.
      if (recipe) {
        recipe->origin = "built-in";
        loaded.push_back(*recipe);
      }
    }
    return loaded;
  }();
  return recipes;
}

Result<Recipe> resolve_recipe(const std::string& id_or_file) {
  for (const Recipe& recipe : builtin_recipes()) {
    if (recipe.id == id_or_file) return recipe;
  }
  struct stat info {};
  bool looks_like_file =
      ::stat(id_or_file.c_str(), &info) == 0 || id_or_file.find('/') != std::string::npos ||
      (id_or_file.size() > 5 && id_or_file.compare(id_or_file.size() - 5, 5, ".json") == 0);
  if (looks_like_file) return load_recipe_file(id_or_file);

  std::string known;
  for (const Recipe& recipe : builtin_recipes()) known += (known.empty() ? "" : ", ") + recipe.id;
  return usage_error("--recipe " + id_or_file +
                     ": no built-in recipe and no file of that name, expected one of: " + known +
                     ", or a recipe file");
}

}  // namespace minicpm
