// minicpm-patch: the command-line interface over the patch engine. It parses options,
// dispatches to the engine and prints; all the work is in the engine library.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine.h"
#include "version.h"

namespace {

using minicpm::ErrorKind;
using minicpm::Report;
using nlohmann::json;

constexpr const char* kExitCodes =
    "Exit codes:\n"
    "  0  success (verify: every selected patch is applied or upstream-fixed)\n"
    "  1  verify found a patch that is pending or drifted, or a stale copy of a patched file\n"
    "     in the transformers modules cache\n"
    "  2  usage error: bad option, model folder or recipe not found, invalid recipe\n"
    "  3  a patch cannot be applied: its anchor is missing or ambiguous, the file is invalid,\n"
    "     or our block was edited; nothing was written\n"
    "  4  I/O error: a file could not be read or written\n";

struct Settings {
  minicpm::Options options;
  bool json_output = false;
  bool quiet = false;
};

void print_error_lines(const std::string& message, const char* kind = "error") {
  std::istringstream lines(message);
  std::string line;
  while (std::getline(lines, line)) std::cerr << "minicpm-patch: " << kind << ": " << line << "\n";
}

void print_table(const Report& report) {
  size_t id_width = 5;
  size_t file_width = 4;
  for (const auto& patch : report.patches) {
    id_width = std::max(id_width, patch.patch_id.size());
    file_width = std::max(file_width, patch.file.size());
  }
  auto row = [&](const std::string& id, const std::string& file, const std::string& state,
                 const std::string& detail) {
    std::string line = id + std::string(id_width - id.size() + 2, ' ') + file +
                       std::string(file_width - file.size() + 2, ' ') + state +
                       std::string(state.size() < 16 ? 16 - state.size() : 1, ' ') + detail;
    std::cout << line << "\n";
  };
  std::cout << "recipe: " << report.recipe_id << "\n";
  row("PATCH", "FILE", "STATE", "DETAIL");
  for (const auto& patch : report.patches)
    row(patch.patch_id, patch.file, minicpm::to_string(patch.state), patch.detail);
}

json report_json(const std::string& command, const Settings& settings, const Report& report,
                 int exit_code) {
  json patches = json::array();
  for (const auto& patch : report.patches) {
    patches.push_back({{"id", patch.patch_id},
                       {"file", patch.file},
                       {"state", minicpm::to_string(patch.state)},
                       {"detail", patch.detail}});
  }
  json stale = json::array();
  for (const auto& copy : report.stale_copies) {
    stale.push_back({{"copy", copy.copy_path}, {"model_file", copy.model_file}});
  }
  return {{"command", command},         {"model_dir", settings.options.model_dir},
          {"recipe", report.recipe_id}, {"patches", patches},
          {"notes", report.notes},      {"warnings", report.warnings},
          {"stale_copies", stale},      {"actions", report.actions},
          {"exit_code", exit_code}};
}

int fail(const std::string& command, const Settings& settings, const minicpm::Error& error) {
  int code = static_cast<int>(error.kind);
  print_error_lines(error.message);
  if (settings.json_output) {
    json document = {{"command", command},
                     {"model_dir", settings.options.model_dir},
                     {"error", error.message},
                     {"exit_code", code}};
    std::cout << document.dump(2) << "\n";
  }
  return code;
}

// Prints "<folder>: 1.2 of 3.4 GiB, 850 MiB/s, 3 s left" on one refreshed line.
std::function<void(uint64_t, uint64_t)> terminal_progress() {
  auto start = std::chrono::steady_clock::now();
  auto last = start - std::chrono::seconds(1);
  return [start, last](uint64_t done, uint64_t total) mutable {
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(200) && done < total) return;
    last = now;
    double seconds = std::chrono::duration<double>(now - start).count();
    double mib = 1024.0 * 1024.0;
    double rate = seconds > 0 ? static_cast<double>(done) / mib / seconds : 0;
    double left = rate > 0 ? static_cast<double>(total - done) / mib / rate : 0;
    std::fprintf(stderr, "\rcopying: %.0f of %.0f MiB, %.0f MiB/s, %.0f s left   ",
                 static_cast<double>(done) / mib, static_cast<double>(total) / mib, rate, left);
    if (done >= total) std::fprintf(stderr, "\n");
  };
}

int run_command(const std::string& command, Settings& settings) {
  if (!settings.quiet && ::isatty(STDERR_FILENO)) settings.options.progress = terminal_progress();

  minicpm::Result<Report> result = Report{};
  if (command == "status") result = minicpm::run_status(settings.options);
  if (command == "verify") result = minicpm::run_verify(settings.options);
  if (command == "apply") result = minicpm::run_apply(settings.options);
  if (command == "diff") result = minicpm::run_diff(settings.options);
  if (command == "revert") result = minicpm::run_revert(settings.options);
  if (!result) return fail(command, settings, result.error());

  const Report& report = *result;
  int code = 0;
  if (command == "verify" && !minicpm::all_verified(report))
    code = static_cast<int>(ErrorKind::verification_failed);

  if (!settings.quiet) {
    for (const auto& note : report.notes) print_error_lines(note, "note");
  }
  for (const auto& warning : report.warnings) print_error_lines(warning, "warning");
  for (const auto& copy : report.stale_copies) {
    bool fails = command == "verify";
    print_error_lines(
        copy.copy_path + ": stale copy of " + copy.model_file +
            " in the transformers modules cache, expected the same bytes; transformers "
            "may load it in place of the patched file; run minicpm-patch apply "
            "--refresh-modules-cache " +
            settings.options.model_dir + " or delete it",
        fails ? "error" : "warning");
  }
  if (command == "verify" && code != 0) {
    for (const auto& patch : report.patches) {
      if (patch.state == minicpm::PatchState::applied ||
          patch.state == minicpm::PatchState::upstream_fixed)
        continue;
      print_error_lines(patch.patch_id + " is " + minicpm::to_string(patch.state) +
                        ", expected applied or upstream-fixed (" + patch.detail +
                        "); run: minicpm-patch apply " + settings.options.model_dir);
    }
  }

  if (settings.json_output) {
    json document = report_json(command, settings, report, code);
    if (command == "diff") document["diff"] = report.diff;
    std::cout << document.dump(2) << "\n";
    return code;
  }
  if (command == "diff") {
    std::cout << report.diff;
    return code;
  }
  if (settings.quiet) return code;
  for (const auto& action : report.actions) std::cout << action << "\n";
  if (command != "revert") print_table(report);
  return code;
}

int list_recipes(bool json_output) {
  json recipes = json::array();
  for (const auto& recipe : minicpm::builtin_recipes()) {
    json patches = json::array();
    for (const auto& patch : recipe.patches) {
      patches.push_back(
          {{"id", patch.id}, {"file", patch.file}, {"description", patch.description}});
    }
    recipes.push_back(
        {{"id", recipe.id}, {"description", recipe.description}, {"patches", patches}});
  }
  if (json_output) {
    std::cout << recipes.dump(2) << "\n";
    return 0;
  }
  for (const auto& recipe : recipes) {
    std::cout << recipe["id"].get<std::string>() << ": " << recipe["description"].get<std::string>()
              << "\n";
    for (const auto& patch : recipe["patches"]) {
      std::cout << "  " << patch["id"].get<std::string>() << " ("
                << patch["file"].get<std::string>()
                << "): " << patch["description"].get<std::string>() << "\n";
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"minicpm-patch " MINICPM_PATCHES_VERSION
               ": keeps downloaded MiniCPM-o 4.5 model folders patched.\n"
               "Run minicpm-patch <command> --help for a command's options.",
               "minicpm-patch"};
  app.footer(kExitCodes);
  app.set_version_flag("--version", MINICPM_PATCHES_VERSION);
  app.require_subcommand(1);

  Settings settings;
  auto add_common = [&](CLI::App* command, bool takes_model) {
    if (takes_model) {
      command->add_option("model-dir", settings.options.model_dir, "The model folder")->required();
      command->add_option(
          "--recipe", settings.options.recipe,
          "Built-in recipe id or recipe JSON file (default: detected from the folder)");
      command->add_option("--only", settings.options.only, "Select only this patch id (repeatable)")
          ->take_last();
      command->add_option(
          "--assets-from", settings.options.assets_from,
          "BF16 model folder to copy assets/ from (default: the sibling folder without -awq)");
    }
    command->add_flag("--json", settings.json_output, "Print a JSON report on stdout");
    command->add_flag("--quiet", settings.quiet, "Print only errors and warnings");
  };

  CLI::App* status = app.add_subcommand(
      "status", "Show each patch's state: applied, pending, upstream-fixed or drifted");
  CLI::App* apply = app.add_subcommand("apply", "Apply every pending patch, all or nothing");
  CLI::App* verify =
      app.add_subcommand("verify", "Exit 0 only if every patch is applied or upstream-fixed");
  CLI::App* diff =
      app.add_subcommand("diff", "Print the unified diff that apply would make, changing nothing");
  CLI::App* revert = app.add_subcommand(
      "revert", "Restore the original bytes of patched files; remove copied files");
  CLI::App* recipes = app.add_subcommand("recipes", "List the built-in recipes and their patches");
  for (CLI::App* command : {status, apply, verify, diff, revert}) add_common(command, true);
  add_common(recipes, false);
  apply->add_flag("--link", settings.options.hard_link,
                  "Hard-link assets in place of copying (same file system only)");
  apply->add_flag(
      "--refresh-modules-cache", settings.options.refresh_modules_cache,
      "Overwrite stale copies of the patched .py files in the transformers modules cache");
  verify->add_flag("--deep", settings.options.deep,
                   "Also compare SHA-256 digests of copied files with the source");
  status->add_flag("--deep", settings.options.deep,
                   "Also compare SHA-256 digests of copied files with the source");

  // CLI11 reads an unknown command as a stray argument; name it instead.
  const std::vector<std::string> commands = {"status", "apply",  "verify",
                                             "diff",   "revert", "recipes"};
  if (argc > 1 && argv[1][0] != '-' &&
      std::find(commands.begin(), commands.end(), argv[1]) == commands.end()) {
    print_error_lines(std::string("unknown command '") + argv[1] +
                      "', expected one of: status, apply, verify, diff, revert, recipes; run "
                      "minicpm-patch --help");
    return static_cast<int>(ErrorKind::usage);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    std::string message = error.what();
    if (!message.empty())
      message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
    print_error_lines(message + "; run minicpm-patch --help");
    return static_cast<int>(ErrorKind::usage);
  }

  if (recipes->parsed()) return list_recipes(settings.json_output);
  for (CLI::App* command : {status, apply, verify, diff, revert}) {
    if (command->parsed()) return run_command(command->get_name(), settings);
  }
  return static_cast<int>(ErrorKind::usage);
}
