// The trainer command line: binds subcommands and options with CLI11 (only here, to keep
// its compile cost in one translation unit), runs the chosen command, and is the only
// place that turns errors into exit codes.

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "config/problems.h"
#include "core/errors.h"
#include "core/signals.h"

namespace {

using trainer::app::ConfigOptions;
using trainer::app::ExportOptions;

void setup_logging(const std::string& level_name) {
  auto logger = spdlog::stderr_color_mt("trainer");
  logger->set_pattern("%^[%H:%M:%S %l]%$ %v");
  spdlog::set_default_logger(logger);
  const spdlog::level::level_enum level = spdlog::level::from_str(level_name);
  // from_str maps unknown names to "off"; only "off" itself may mean off.
  if (level == spdlog::level::off && level_name != "off") {
    throw trainer::UsageError("invalid log level '" + level_name +
                              "'; choose one of trace, debug, info, warn, error, off");
  }
  spdlog::set_level(level);
}

/// Adds --config and accepts dotted overrides after the known options.
void add_config_options(CLI::App* command, ConfigOptions& options) {
  command->add_option("-c,--config", options.configs,
                      "YAML config file; repeat to merge several, later files override earlier ones");
  command->allow_extras();
  command->footer(
      "Overrides: any config key as --section.key=value or --section.key value,\n"
      "for example --trainer.max_epochs=5 --data.init_args.batch_size=256 --model=mlp");
}

/// Prints `message` to stderr and, in a worker of a ddp launch, also writes it with the
/// time in nanoseconds since the epoch to $TRAINER_ERROR_FILE, so the launcher can tell
/// which rank failed first.
void report_error(const std::string& message) {
  std::cerr << message << std::endl;
  const char* path = std::getenv("TRAINER_ERROR_FILE");
  if (path == nullptr || *path == '\0') return;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  std::ofstream(path) << std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() << "\n" << message << "\n";
}

/// Runs `command` and maps every error to its documented exit code (see README.md).
int run_guarded(const std::function<int()>& command) {
  try {
    return command();
  } catch (const trainer::config::ConfigError& error) {
    report_error(std::string("config error: ") + error.what());
    return static_cast<int>(error.code());
  } catch (const trainer::InterruptedError& error) {
    std::cerr << "stopped: " << error.what() << std::endl;
    return static_cast<int>(error.code());
  } catch (const trainer::Error& error) {
    report_error(std::string("error: ") + error.what());
    return static_cast<int>(error.code());
  } catch (const c10::Error& error) {
    report_error(std::string("error: LibTorch: ") + error.what_without_backtrace());
    return static_cast<int>(trainer::ExitCode::failure);
  } catch (const std::exception& error) {
    report_error(std::string("error: ") + error.what());
    return static_cast<int>(trainer::ExitCode::failure);
  }
}

}  // namespace

namespace trainer::app {

int main_entry(int argc, char** argv) {
  CLI::App app{"trainer: train and evaluate LibTorch models configured by YAML files."};
  app.set_version_flag("--version", std::string("trainer ") + TRAINER_VERSION);
  app.require_subcommand(1);
  const char* env_level = std::getenv("TRAINER_LOG_LEVEL");
  std::string log_level = env_level != nullptr ? env_level : "info";
  app.add_option("--log-level", log_level,
                 "Console verbosity: trace, debug, info, warn, error, off (default: $TRAINER_LOG_LEVEL or info)");

  const char* env_requeue = std::getenv("TRAINER_REQUEUE_SIGNAL");
  std::string requeue_signal = env_requeue != nullptr ? env_requeue : "SIGUSR1";
  // The global options are also accepted after the subcommand name, where users tend to put them.
  auto add_global_options = [&log_level, &requeue_signal](CLI::App* command) {
    command->add_option("--log-level", log_level, "Console verbosity, as before the subcommand");
    command->add_option("--requeue-signal", requeue_signal, "Requeue signal, as before the subcommand");
  };
  app.add_option("--requeue-signal", requeue_signal,
                 "Signal that saves and exits with code 75 so a scheduler can requeue the job: SIGUSR1, SIGUSR2, "
                 "SIGHUP, a number or none (default: $TRAINER_REQUEUE_SIGNAL or SIGUSR1)");

  ConfigOptions options;
  trainer::RunOptions run_options;
  std::string key;
  bool print_config = false;
  std::string run_name;
  std::string version;
  std::function<int()> selected;

  struct StageCommand {
    const char* name;
    const char* help;
    trainer::Stage stage;
  };
  const StageCommand stage_commands[] = {
      {"fit", "Train a model and write checkpoints, metrics and the resolved config.", trainer::Stage::fit},
      {"validate", "Evaluate a checkpoint on the validation set.", trainer::Stage::validate},
      {"test", "Evaluate a checkpoint on the test set.", trainer::Stage::test},
      {"predict", "Write a checkpoint's predictions on the test set to the run directory.", trainer::Stage::predict},
  };
  for (const StageCommand& spec : stage_commands) {
    CLI::App* command = app.add_subcommand(spec.name, spec.help);
    add_config_options(command, options);
    add_global_options(command);
    if (spec.stage == trainer::Stage::fit) {
      command->add_option("--ckpt_path", run_options.ckpt_path,
                          "Resume from this checkpoint, or 'last' for the newest of this run_name");
      command->add_flag("--ignore_config_changes", run_options.ignore_config_changes,
                        "Resume even when the model or data config differs from the checkpoint's");
    } else {
      command->add_option("--ckpt_path", run_options.ckpt_path, "Checkpoint to use, or 'last' for the newest");
    }
    if (spec.stage == trainer::Stage::predict) {
      command->add_option("--output_format", run_options.predict_format,
                          "csv (index, target, prediction, probabilities) or npy (predictions.npy, targets.npy)");
    }
    command->add_flag("--print_config", print_config, "Print the resolved config as YAML and exit");
    command->add_option("--run_name", run_name, "Same as --trainer.run_name: the run directory group");
    command->add_option("--version", version, "Same as --trainer.version: the run directory is version_<VERSION>");
    const trainer::Stage stage = spec.stage;
    command->callback([&, stage, command] {
      options.extras = command->remaining();
      // Spelled as overrides, so they take precedence and are recorded like any other.
      if (!run_name.empty()) options.extras.push_back("--trainer.run_name=" + run_name);
      if (!version.empty()) options.extras.push_back("--trainer.version=" + version);
      selected = [&, stage] { return trainer::app::run_stage_command(stage, options, run_options, print_config); };
    });
  }

  CLI::App* print_command = app.add_subcommand("print-config", "Print the resolved config, every default filled in.");
  add_config_options(print_command, options);
  add_global_options(print_command);
  print_command->callback([&] {
    options.extras = print_command->remaining();
    selected = [&] { return trainer::app::print_config_command(options); };
  });

  CLI::App* explain = app.add_subcommand("explain", "Print a key's final value and every source that set it.");
  explain->add_option("key", key, "Dotted config key, e.g. trainer.max_epochs")->required();
  add_config_options(explain, options);
  add_global_options(explain);
  explain->callback([&] {
    options.extras = explain->remaining();
    selected = [&] { return trainer::app::explain_command(options, key); };
  });

  ExportOptions export_options;
  CLI::App* export_cli = app.add_subcommand(
      "export", "Write a checkpoint's model for inference outside trainer, as a state dict or TorchScript.");
  export_cli->add_option("--ckpt_path", export_options.ckpt_path,
                             "Checkpoint to export, or 'last' for the newest (needs --config)")
      ->required();
  export_cli
      ->add_option("--format", export_options.format,
                   "state_dict: a dict of parameter and buffer tensors that Python's torch.load reads, for any "
                   "model. torchscript: a module for torch.jit.load, only for models trained from a TorchScript "
                   "file (model.class_path: torchscript), because LibTorch cannot convert C++ modules")
      ->check(CLI::IsMember({"state_dict", "torchscript"}))
      ->capture_default_str();
  export_cli->add_option("--output", export_options.output,
                             "File to write; default: state_dict.pt or model.pt next to the checkpoint");
  add_config_options(export_cli, options);
  add_global_options(export_cli);
  export_cli->footer(
      "The model is rebuilt from --config, or without it from the config saved in the checkpoint.\n"
      "Overrides: any config key as --section.key=value, for example --data.init_args.root=DIR");
  export_cli->callback([&] {
    options.extras = export_cli->remaining();
    selected = [&] { return trainer::app::export_command(options, export_options); };
  });

  CLI::App* schema = app.add_subcommand("schema", "Print a JSON Schema of the config for editors.");
  add_global_options(schema);
  schema->callback([&] { selected = [] { return trainer::app::schema_command(); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);  // prints help, the version, or the error
    return code == 0 ? 0 : static_cast<int>(trainer::ExitCode::usage);
  }
  return run_guarded([&] {
    setup_logging(log_level);
    trainer::install_stop_handlers(trainer::parse_signal_name(requeue_signal));
    return selected();
  });
}

}  // namespace trainer::app
