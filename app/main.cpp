// The trainer command line: subcommands, --config files and dotted overrides.
// This is the only place that catches errors and turns them into exit codes.

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "config/load.h"
#include "config/problems.h"
#include "core/errors.h"
#include "trainer/catalog.h"
#include "trainer/run.h"

namespace {

struct CommandOptions {
  std::vector<std::string> configs;
  std::string ckpt_path;
  bool print_config = false;
};

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

int run_command(trainer::Stage stage, const CommandOptions& options, const std::vector<std::string>& extras) {
  const trainer::RegistryCatalog catalog;
  const std::vector<trainer::config::Override> overrides = trainer::config::parse_override_args(extras);
  trainer::config::LoadedConfig loaded = trainer::config::load_config(options.configs, overrides, catalog);
  if (options.print_config) {
    std::cout << trainer::config::settings_to_yaml(loaded.settings);
    return 0;
  }
  const trainer::RunResult result = trainer::run_stage(stage, loaded.settings, options.ckpt_path);
  for (const auto& [name, value] : result.metrics) {
    spdlog::info("result {}={}", name, trainer::logging::format_metric(value));
  }
  // The last line on stdout is the run directory, so scripts can capture it.
  std::cout << result.run_dir << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trainer: train and evaluate LibTorch models configured by YAML files."};
  app.set_version_flag("--version", std::string("trainer ") + TRAINER_VERSION);
  app.require_subcommand(1);
  const char* env_level = std::getenv("TRAINER_LOG_LEVEL");
  std::string log_level = env_level != nullptr ? env_level : "info";
  app.add_option("--log-level", log_level, "Console verbosity: trace, debug, info, warn, error, off (env TRAINER_LOG_LEVEL)");

  struct Subcommand {
    const char* name;
    const char* help;
    trainer::Stage stage;
  };
  const Subcommand subcommands[] = {
      {"fit", "Train a model and write checkpoints, metrics and the resolved config.", trainer::Stage::fit},
      {"validate", "Evaluate a checkpoint on the validation set.", trainer::Stage::validate},
      {"test", "Evaluate a checkpoint on the test set.", trainer::Stage::test},
  };
  CommandOptions options;
  std::vector<std::pair<CLI::App*, trainer::Stage>> commands;
  for (const Subcommand& subcommand : subcommands) {
    CLI::App* command = app.add_subcommand(subcommand.name, subcommand.help);
    command->add_option("-c,--config", options.configs,
                        "YAML config file; repeat to merge several, later files override earlier ones");
    if (subcommand.stage != trainer::Stage::fit) {
      command->add_option("--ckpt_path", options.ckpt_path, "Checkpoint to evaluate, or 'last' for the newest");
    }
    command->add_flag("--print_config", options.print_config, "Print the resolved config as YAML and exit");
    command->allow_extras();
    command->footer(
        "Overrides: any config key as --section.key=value or --section.key value,\n"
        "for example --trainer.max_epochs=5 --data.init_args.batch_size=256 --model=mlp");
    commands.emplace_back(command, subcommand.stage);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);  // prints help, the version, or the error
    return code == 0 ? 0 : static_cast<int>(trainer::ExitCode::usage);
  }

  try {
    setup_logging(log_level);
    for (const auto& [command, stage] : commands) {
      if (command->parsed()) return run_command(stage, options, command->remaining());
    }
  } catch (const trainer::config::ConfigError& error) {
    std::cerr << "config error: " << error.what() << std::endl;
    return static_cast<int>(error.code());
  } catch (const trainer::Error& error) {
    std::cerr << "error: " << error.what() << std::endl;
    return static_cast<int>(error.code());
  } catch (const c10::Error& error) {
    std::cerr << "error: LibTorch: " << error.what_without_backtrace() << std::endl;
    return static_cast<int>(trainer::ExitCode::failure);
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << std::endl;
    return static_cast<int>(trainer::ExitCode::failure);
  }
  return static_cast<int>(trainer::ExitCode::usage);
}
