#include "commands.h"

#include <spdlog/spdlog.h>

#include <iostream>

#include "config/explain.h"
#include "config/load.h"
#include "config/schema.h"
#include "core/signals.h"
#include "trainer/catalog.h"

namespace trainer::app {
namespace {

config::LoadedConfig load(const ConfigOptions& options) {
  const RegistryCatalog catalog;
  return config::load_config(options.configs, config::parse_override_args(options.extras), catalog);
}

}  // namespace

int run_stage_command(Stage stage, const ConfigOptions& options, const RunOptions& run_options, bool print_config) {
  config::LoadedConfig loaded = load(options);
  if (print_config) {
    std::cout << config::settings_to_yaml(loaded.settings);
    return 0;
  }
  RunOptions options_with_overrides = run_options;
  options_with_overrides.overrides = options.extras;
  const RunResult result = run_stage(stage, loaded.settings, options_with_overrides);
  for (const auto& [name, value] : result.metrics) {
    spdlog::info("result {}={}", name, logging::format_metric(value));
  }
  // The last line on stdout is the run directory, so scripts can capture it.
  if (!result.run_dir.empty()) std::cout << result.run_dir << std::endl;
  // A stop signal that arrived after the last point the run polls it still ends the
  // command with that signal's code, so schedulers see why the process ended.
  if (const int signal = received_stop_signal()) {
    throw InterruptedError(stop_exit_code(signal),
                           signal_name(signal) + " received after the command finished; its results are complete");
  }
  return 0;
}

int print_config_command(const ConfigOptions& options) {
  config::LoadedConfig loaded = load(options);
  std::cout << config::settings_to_yaml(loaded.settings);
  return 0;
}

int explain_command(const ConfigOptions& options, const std::string& key) {
  config::LoadedConfig loaded = load(options);
  std::cout << config::explain_key(loaded, key);
  return 0;
}

int schema_command() {
  std::cout << config::config_json_schema(RegistryCatalog());
  return 0;
}

}  // namespace trainer::app
