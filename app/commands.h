#pragma once
/// The subcommands, each run with its parsed options. Binding options is main.cpp's job,
/// so CLI11 stays in one translation unit.

#include <string>
#include <vector>

#include "trainer/run.h"

namespace trainer::app {

/// Options shared by every command that reads an experiment config.
struct ConfigOptions {
  std::vector<std::string> configs;  ///< --config files, in order
  std::vector<std::string> extras;   ///< the rest of the command line: dotted overrides
};

/// fit, validate, test and predict: prints the run directory as the last line on stdout.
int run_stage_command(Stage stage, const ConfigOptions& options, const RunOptions& run_options, bool print_config);

/// print-config: prints the resolved config as YAML.
int print_config_command(const ConfigOptions& options);

/// explain KEY: prints the key's final value and where it came from.
int explain_command(const ConfigOptions& options, const std::string& key);

/// schema: prints the JSON Schema of the config.
int schema_command();

}  // namespace trainer::app
