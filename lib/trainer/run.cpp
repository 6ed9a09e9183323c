#include "trainer/run.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "accelerator/accelerator_connector.h"
#include "accelerator/distributed.h"
#include "config/load.h"
#include "core/errors.h"
#include "data/data_connector.h"
#include "logging/logger_connector.h"
#include "trainer/checkpoint.h"
#include "trainer/results.h"
#include "trainer/trainer.h"

namespace trainer {
namespace {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::fit: return "fit";
    case Stage::validate: return "validate";
    case Stage::test: return "test";
    case Stage::predict: return "predict";
  }
  return "unknown";
}

RunResult run_command(Stage stage, Trainer& trainer, const std::string& checkpoint, const std::string& config_yaml,
                      const RunOptions& options) {
  RunResult result;
  result.checkpoint = checkpoint;
  switch (stage) {
    case Stage::fit:
      result.metrics = trainer.fit(config_yaml, {checkpoint, options.ignore_config_changes});
      result.checkpoint = trainer.last_checkpoint();
      break;
    case Stage::validate:
      result.metrics = trainer.validate(checkpoint, config_yaml);
      break;
    case Stage::test:
      result.metrics = trainer.test(checkpoint, config_yaml);
      break;
    case Stage::predict:
      result.output = trainer.predict(checkpoint, config_yaml,
                                      options.predict_format == "npy" ? PredictFormat::npy : PredictFormat::csv);
      break;
  }
  return result;
}

}  // namespace

void check_run_options(Stage stage, const RunOptions& options) {
  if (stage != Stage::fit && options.ckpt_path.empty()) {
    throw UsageError("--ckpt_path is required: name the checkpoint to evaluate, or 'last'");
  }
  if (options.predict_format != "csv" && options.predict_format != "npy") {
    throw UsageError("--output_format must be 'csv' or 'npy', got '" + options.predict_format + "'");
  }
}

RunResult run_stage(Stage stage, config::ExperimentSettings settings, const RunOptions& options) {
  const std::string config_yaml = config::settings_to_yaml(settings);
  const auto seed = static_cast<uint64_t>(settings.seed_everything);
  // fast_dev_run checks that everything runs; it leaves no run directory behind.
  if (settings.trainer.fast_dev_run.value > 0) settings.logger.write_files = false;

  check_run_options(stage, options);
  std::string checkpoint;
  if (!options.ckpt_path.empty()) {
    checkpoint = resolve_checkpoint_path(options.ckpt_path, settings.logger.default_root_dir, settings.logger.run_name);
  }

  accelerator::AcceleratorConnector accelerator(settings.accelerator);
  accelerator::seed_everything(seed);
  // Every rank seeds alike, so the data split and the initial weights agree before the
  // Trainer broadcasts rank 0's; each rank then reads its own shard.
  const data::Shard shard{accelerator.rank(), accelerator.world_size()};
  data::DataConnector data(settings.data, seed, shard);
  if (!checkpoint.empty()) {
    // Class names, vocabulary and standardisation come from the checkpoint, before the
    // model is sized from the data.
    data.load_state(read_checkpoint_info(checkpoint).data);
  }
  // Only rank 0 writes the run directory; the other ranks compute the same reduced metrics.
  if (!accelerator.is_global_zero()) settings.logger.write_files = false;
  std::unique_ptr<logging::Reducer> reducer;
  if (accelerator.process_group() != nullptr) {
    reducer = std::make_unique<accelerator::ProcessGroupReducer>(*accelerator.process_group());
  }
  logging::LoggerConnector logger(settings.logger, std::move(reducer));
  Trainer trainer(settings.trainer, settings.model, settings.optimizer, settings.lr_scheduler, accelerator, logger,
                  data);
  if (stage == Stage::fit && settings.logger.write_files) {
    check_free_space(settings.logger.default_root_dir,
                     settings.trainer.enable_checkpointing ? trainer.estimated_checkpoint_bytes() : 0);
  }

  const auto start = std::chrono::steady_clock::now();
  RunRecord record;
  record.stage = stage_name(stage);
  record.config_hash = config_hash(config_yaml);
  record.overrides = options.overrides;
  // Writes results.json when the run got as far as a run directory, whatever the outcome.
  auto finish = [&](int exit_code, const std::string& error) {
    if (logger.run_dir().empty()) return;
    record.status = status_for_exit_code(exit_code);
    record.exit_code = exit_code;
    record.error = error;
    record.run_dir = logger.run_dir();
    record.wall_time_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (exit_code != 0) record.final_metrics = trainer.newest_metrics();
    record.best_metrics = trainer.best_metrics();
    record.last_checkpoint = trainer.last_checkpoint();
    if (const auto best = trainer.best_checkpoint()) {
      record.best_checkpoint = best->path;
      record.monitor = best->monitor;
      if (!best->monitor.empty()) record.best_score = best->score;
    }
    try {
      write_results_json((std::filesystem::path(logger.run_dir()) / "results.json").string(), record);
    } catch (const std::exception& write_error) {
      spdlog::error("cannot write results.json: {}", write_error.what());
    }
    if (options.on_finished) options.on_finished(logger.run_dir());
  };

  RunResult result;
  try {
    result = run_command(stage, trainer, checkpoint, config_yaml, options);
  } catch (const Error& error) {
    finish(static_cast<int>(error.code()), error.what());
    throw;
  } catch (const std::exception& error) {
    finish(static_cast<int>(ExitCode::failure), error.what());
    throw;
  }
  record.final_metrics = result.metrics;
  finish(0, "");
  result.run_dir = logger.run_dir();
  return result;
}

}  // namespace trainer
