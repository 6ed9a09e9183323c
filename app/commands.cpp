#include "app/commands.h"

#include <torch/nn/module.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "accelerator/accelerator_connector.h"
#include "accelerator/distributed.h"
#include "app/launcher.h"
#include "config/explain.h"
#include "config/load.h"
#include "config/schema.h"
#include "core/atomic_file.h"
#include "core/errors.h"
#include "data/data_connector.h"
#include "models/export.h"
#include "models/model.h"
#include "core/signals.h"
#include "trainer/catalog.h"
#include "trainer/checkpoint.h"

namespace trainer::app {
namespace {

config::LoadedConfig load(const ConfigOptions& options) {
  const RegistryCatalog catalog;
  return config::load_config(options.configs, config::parse_override_args(options.extras), catalog);
}

/// Reads the config that a checkpoint saved, with command-line `overrides` applied on top.
config::ExperimentSettings settings_from_checkpoint(const std::string& ckpt_path,
                                                    const std::vector<std::string>& overrides) {
  const CheckpointInfo info = read_checkpoint_info(ckpt_path);
  // Not a file source, so relative paths stay relative to the working directory, as
  // they were when the run that wrote the checkpoint resolved them.
  config::Node merged = config::parse_yaml(info.config_yaml, "the config saved in '" + ckpt_path + "'", false);
  for (const config::Override& item : config::parse_override_args(overrides)) {
    config::set_path(merged, item.key, config::parse_yaml(item.value, "command line (--" + item.key + ")", false));
  }
  return config::read_settings(merged, RegistryCatalog());
}

/// Returns a CPU accelerator with the precision of `settings`, in this one process.
/// '16-mixed' needs CUDA; its parameters are float32, so the export uses '32'.
accelerator::AcceleratorConnector export_accelerator(config::AcceleratorSettings settings) {
  settings.accelerator = "cpu";
  settings.devices = "auto";
  settings.strategy = "auto";
  if (settings.precision == "16-mixed") settings.precision = "32";
  return accelerator::AcceleratorConnector(settings);
}

void write_output(const std::string& path, const std::string& bytes) {
  try {
    write_file_atomic(path, bytes);
  } catch (const std::runtime_error& error) {
    throw UsageError(std::string("--output: ") + error.what());
  }
}

}  // namespace

int run_stage_command(Stage stage, const ConfigOptions& options, const RunOptions& run_options, bool print_config) {
  config::LoadedConfig loaded = load(options);
  if (print_config) {
    std::cout << config::settings_to_yaml(loaded.settings);
    return 0;
  }
  // Ranks other than 0 log warnings and errors only, so the console shows each line once.
  const std::optional<accelerator::DistributedEnv> distributed = accelerator::read_distributed_env();
  if (distributed && distributed->rank != 0 && spdlog::get_level() < spdlog::level::warn) {
    spdlog::set_level(spdlog::level::warn);
  }
  const int64_t processes = accelerator::requested_processes(loaded.settings.accelerator);
  if (processes > 1 && !distributed) {
    if (loaded.settings.accelerator.num_nodes > 1) {
      throw UsageError("trainer.num_nodes is " + std::to_string(loaded.settings.accelerator.num_nodes) +
                       "; start every node's processes with torchrun or srun (see scripts/launch_ddp.sh)");
    }
    accelerator::check_accelerator_settings(loaded.settings.accelerator);
    check_run_options(stage, run_options);
    return launch_local_workers(processes);
  }
  RunOptions options_with_overrides = run_options;
  options_with_overrides.overrides = options.extras;
  // The last line on stdout is the run directory, so scripts can capture it, also from a
  // run that stopped or failed after creating it. The metrics come first, on stderr.
  std::string run_dir;
  options_with_overrides.on_finished = [&run_dir](const std::string& dir) { run_dir = dir; };
  RunResult result;
  try {
    result = run_stage(stage, loaded.settings, options_with_overrides);
  } catch (const std::exception&) {
    if (!run_dir.empty()) std::cout << run_dir << std::endl;
    throw;
  }
  for (const auto& [name, value] : result.metrics) {
    spdlog::info("result {}={}", name, logging::format_metric(value));
  }
  if (!run_dir.empty()) std::cout << run_dir << std::endl;
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

CheckpointModel load_checkpoint_model(const ConfigOptions& options, const std::string& ckpt_path) {
  CheckpointModel loaded;
  loaded.ckpt_path = ckpt_path;
  if (!options.configs.empty()) {
    loaded.settings = load(options).settings;
    loaded.ckpt_path = resolve_checkpoint_path(ckpt_path, loaded.settings.logger.default_root_dir,
                                               loaded.settings.logger.run_name);
  } else if (ckpt_path == "last") {
    throw UsageError("--ckpt_path last needs --config to find the run folder; pass the checkpoint's path instead");
  } else {
    loaded.settings = settings_from_checkpoint(ckpt_path, options.extras);
  }

  // The data decides the model's input shape and output width; the checkpoint's data
  // state (class names, vocabulary) makes them match the trained model.
  const config::ExperimentSettings& settings = loaded.settings;
  const CheckpointInfo saved = read_checkpoint_info(loaded.ckpt_path);
  check_model_class(saved, loaded.ckpt_path, settings.model.class_path);
  data::DataConnector data(settings.data, static_cast<uint64_t>(settings.seed_everything));
  data.load_state(saved.data);
  loaded.model = models::build_model(settings.model, data.spec());
  loaded.info = load_checkpoint(loaded.ckpt_path, *loaded.model, nullptr);
  export_accelerator(settings.accelerator).prepare(*loaded.model);
  loaded.model->eval();
  return loaded;
}

int export_command(const ConfigOptions& options, const ExportOptions& export_options) {
  const CheckpointModel loaded = load_checkpoint_model(options, export_options.ckpt_path);
  const std::string& class_path = loaded.settings.model.class_path;

  const bool torchscript = export_options.format == "torchscript";
  std::string output = export_options.output;
  if (output.empty()) {
    const std::filesystem::path folder = std::filesystem::path(loaded.ckpt_path).parent_path();
    output = (folder / (torchscript ? "model.pt" : "state_dict.pt")).string();
  }
  std::error_code same_error;
  if (std::filesystem::equivalent(output, loaded.ckpt_path, same_error)) {
    throw UsageError("--output '" + output + "' is the checkpoint being exported; writing there would replace it, "
                     "so choose another file");
  }
  if (torchscript) {
    try {
      loaded.model->save_torchscript(output);
    } catch (const UsageError& error) {
      throw UsageError("exporting model '" + class_path + "' as TorchScript: " + error.what());
    } catch (const std::runtime_error& error) {
      throw UsageError(std::string("--output: ") + error.what());
    }
  } else {
    write_output(output, models::state_dict_bytes(*loaded.model));
  }
  spdlog::info("export format={} model={} epoch={} step={} parameters={} output={}", export_options.format,
               class_path, loaded.info.epoch, loaded.info.global_step, models::count_parameters(*loaded.model),
               output);
  std::cout << output << std::endl;
  return 0;
}

int schema_command() {
  std::cout << config::config_json_schema(RegistryCatalog());
  return 0;
}

}  // namespace trainer::app
