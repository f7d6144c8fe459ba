#include "recipe.h"

#include "catch.h"

using minicpm::parse_recipe;

namespace {

std::string recipe_error(const std::string& text) {
  auto result = parse_recipe(text, "r.json");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == minicpm::ErrorKind::usage);
  return result.error().message;
}

std::string with_patch(const std::string& patch) {
  return R"({"recipe": "r", "description": "d", "detect": {"files": ["m.py"]}, "patches": [)" +
         patch + "]}";
}

const std::string kGoodPatch =
    R"({"id": "p", "kind": "python-insert", "file": "m.py", "description": "d",
        "function": "chat", "call": "self.generate", "position": "after-body-statement",
        "lines": ["if stream:", "    return {call_target}"]})";

}  // namespace

TEST_CASE("built-in recipes load") {
  const auto& recipes = minicpm::builtin_recipes();
  REQUIRE(recipes.size() == 2);
  CHECK(recipes[0].id == "minicpm-o-4_5");
  CHECK(recipes[0].patches.size() == 2);
  CHECK(recipes[1].id == "minicpm-o-4_5-awq");
  CHECK(recipes[1].patches.size() == 4);
}

TEST_CASE("valid recipe parses") {
  auto result = parse_recipe(with_patch(kGoodPatch), "r.json");
  REQUIRE(result.ok());
  CHECK(result->patches[0].marker() == "PATCH: p: d");
}

TEST_CASE("recipe errors name the file and key") {
  CHECK(recipe_error("{") ==
        "r.json: invalid JSON, expected a recipe object: [json.exception.parse_error.101] "
        "parse error at line 1, column 2: syntax error while parsing object key - unexpected "
        "end of input; expected string literal");
  CHECK(recipe_error(R"({"recipe": "r", "description": "d", "detect": {"files": []}, "patches": [],
                      "extra": 1})") ==
        "r.json: extra: unknown key, expected one of: description, detect, patches, recipe");
  CHECK(recipe_error(R"({"description": "d", "detect": {"files": []}, "patches": []})") ==
        "r.json: recipe: missing, expected a string");
  CHECK(recipe_error(R"({"recipe": 5, "description": "d", "detect": {"files": []}, "patches": []})") ==
        "r.json: recipe: expected a string, got 5");
  CHECK(recipe_error(R"({"recipe": "r", "description": "d", "detect": {"files": []}, "patches": []})") ==
        "r.json: patches: expected a non-empty array of patch objects");
}

TEST_CASE("patch file must stay inside the model folder") {
  for (const char* path : {"/etc/passwd", "../m.py", "a/../../m.py", "a//b.py", "./m.py"}) {
    std::string patch = kGoodPatch;
    patch.replace(patch.find("\"m.py\""), 6, "\"" + std::string(path) + "\"");
    INFO(path);
    CHECK(recipe_error(with_patch(patch)) ==
          "r.json: patches[0].file: \"" + std::string(path) +
              "\" is absolute or leaves the model folder, expected a relative path inside it");
  }
}

TEST_CASE("patch errors name the patch key") {
  std::string unknown_kind = kGoodPatch;
  unknown_kind.replace(unknown_kind.find("python-insert"), 13, "sed");
  CHECK(recipe_error(with_patch(unknown_kind)) ==
        "r.json: patches[0].kind: expected \"python-insert\", \"json-value\" or "
        "\"copy-directory\", got \"sed\"");

  std::string bad_position = kGoodPatch;
  bad_position.replace(bad_position.find("after-body-statement"), 20, "line-1184");
  CHECK(recipe_error(with_patch(bad_position)) ==
        "r.json: patches[0].position: expected \"after-body-statement\" or "
        "\"before-statement\", got \"line-1184\"");

  std::string extra_key = kGoodPatch;
  extra_key.insert(1, "\"line\": 1184, ");
  CHECK(recipe_error(with_patch(extra_key)).rfind("r.json: patches[0].line: unknown key", 0) == 0);

  std::string no_lines = kGoodPatch.substr(0, kGoodPatch.find(",\n        \"lines\"")) + "}";
  CHECK(recipe_error(with_patch(no_lines)) ==
        "r.json: patches[0].lines: missing, expected an array of strings");

  CHECK(recipe_error(with_patch(kGoodPatch + "," + kGoodPatch)) ==
        "r.json: patches[1].id: \"p\" is used twice, expected unique patch ids");
}

TEST_CASE("copy patch required paths stay inside") {
  std::string patch =
      R"({"id": "a", "kind": "copy-directory", "file": "assets", "description": "d",
          "required": ["../secret"]})";
  CHECK(recipe_error(with_patch(patch)) ==
        "r.json: patches[0].required: \"../secret\" leaves the folder, expected a relative path "
        "inside it");
}
