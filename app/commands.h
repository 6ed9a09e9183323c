#pragma once
/// The subcommands, each run with its parsed options. Binding options is cli.cpp's job,
/// so CLI11 stays in one translation unit.

#include <memory>
#include <string>
#include <vector>

#include "trainer/checkpoint.h"
#include "trainer/run.h"

namespace trainer::models {
class Model;
}

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

/// A model rebuilt from a checkpoint, with the settings it was rebuilt from.
struct CheckpointModel {
  std::shared_ptr<models::Model> model;  ///< in evaluation mode, on the CPU
  config::ExperimentSettings settings;
  std::string ckpt_path;  ///< the resolved path ("last" replaced by the file)
  CheckpointInfo info;
};

/// Reads the config (the --config files, or without them the config saved in the
/// checkpoint, with `options.extras` as overrides in both cases), rebuilds the model
/// sized by that config's data and loads `ckpt_path` into it. Throws UsageError,
/// DataError or CheckpointError.
CheckpointModel load_checkpoint_model(const ConfigOptions& options, const std::string& ckpt_path);

/// Options of `export`.
struct ExportOptions {
  std::string ckpt_path;
  std::string format = "state_dict";  ///< "state_dict" or "torchscript"
  std::string output;                 ///< empty: state_dict.pt or model.pt next to the checkpoint
};

/// export: rebuilds the model from the config (the --config files, or else the config
/// saved in the checkpoint), loads the checkpoint into it and writes it in `format`.
/// Prints the written path as the last line on stdout.
int export_command(const ConfigOptions& options, const ExportOptions& export_options);

/// schema: prints the JSON Schema of the config.
int schema_command();

}  // namespace trainer::app
