// Recipes: named sets of patches for one model revision, loaded from JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "error.h"

namespace minicpm {

// A shape of code that already fixes what a Python patch fixes, written without our marker
// (by a later upstream revision, say).
struct UpstreamFixShape {
  enum class Position { before, after };
  // "after": the function-body statement right after the one that contains `call`.
  // "before": any function-body statement before the one that contains `call`.
  Position position = Position::after;
  std::string call;         // Dotted call, such as "self.generate".
  std::string statement;    // Normalized header, such as `if stream :`.
  std::string contains;     // Normalized start of a statement inside that block.
  std::string unless_call;  // The shape counts only when the function never makes this call.
};

// Inserts lines into one function of a Python file, next to a call it makes.
struct PythonInsertPatch {
  enum class Position { after_body_statement, before_statement };
  std::string function;    // Function name, such as "chat".
  std::string class_name;  // Enclosing class; empty accepts a function in any class.
  std::string call;        // Dotted call inside the function, such as "self.generate".
  Position position = Position::after_body_statement;
  // Lines to insert, indented with 4 spaces a level relative to the insertion point; the
  // engine rewrites that indentation in the file's own style. "{call_target}" stands for the
  // first name the call's result is assigned to.
  std::vector<std::string> lines;
  std::vector<UpstreamFixShape> upstream_fixes;
};

// Sets the value at a path in a JSON file, when the current value is the expected one.
struct JsonValuePatch {
  std::vector<std::string> path;
  nlohmann::json expected;
  nlohmann::json target;
};

// Copies a folder from another model folder (the TTS assets from the BF16 model).
struct CopyDirectoryPatch {
  std::string directory;              // Folder inside the model folder, such as "assets".
  std::vector<std::string> required;  // Paths inside it; a '*' matches within one name.
  std::string source_suffix;          // Sibling source folder: this name minus the suffix.
  std::string fetch_command;          // Shown when the source is missing files; DIR is replaced.
};

struct Patch {
  std::string id;
  std::string file;  // Path inside the model folder (the folder, for copy-directory).
  std::string description;
  std::variant<PythonInsertPatch, JsonValuePatch, CopyDirectoryPatch> action;

  // The marker comment that proves a Python patch applied: "PATCH: <id>: <description>".
  std::string marker() const { return "PATCH: " + id + ": " + description; }
};

// Detection rule: the files and the config.json value that mark a folder for a recipe.
struct DetectRule {
  std::vector<std::string> files;        // Files that must exist.
  std::vector<std::string> config_path;  // Path into config.json ...
  nlohmann::json config_value;           // ... and its value; null means "absent".
};

struct Recipe {
  std::string id;
  std::string description;
  std::string origin;  // "built-in" or the recipe file's path.
  DetectRule detect;
  std::vector<Patch> patches;
};

// Parses and validates a recipe. origin names it in error messages.
Result<Recipe> parse_recipe(const std::string& json_text, const std::string& origin);

// Loads a recipe file given with --recipe.
Result<Recipe> load_recipe_file(const std::string& path);

// The recipes compiled into the binary.
const std::vector<Recipe>& builtin_recipes();

// Finds a built-in recipe by id, else loads a recipe file (an argument that names an
// existing file or ends with ".json").
Result<Recipe> resolve_recipe(const std::string& id_or_file);

}  // namespace minicpm
