#include "trainer/run.h"

#include <spdlog/spdlog.h>

#include "accelerator/accelerator_connector.h"
#include "config/load.h"
#include "core/errors.h"
#include "data/data_connector.h"
#include "logging/logger_connector.h"
#include "trainer/checkpoint.h"
#include "trainer/trainer.h"

namespace trainer {

RunResult run_stage(Stage stage, config::ExperimentSettings settings, const RunOptions& options) {
  const std::string config_yaml = config::settings_to_yaml(settings);
  const auto seed = static_cast<uint64_t>(settings.seed_everything);
  // fast_dev_run checks that everything runs; it leaves no run directory behind.
  if (settings.trainer.fast_dev_run.value > 0) settings.logger.write_files = false;

  std::string checkpoint;
  if (stage != Stage::fit && options.ckpt_path.empty()) {
    throw UsageError("--ckpt_path is required: name the checkpoint to evaluate, or 'last'");
  }
  if (!options.ckpt_path.empty()) {
    checkpoint = resolve_checkpoint_path(options.ckpt_path, settings.logger.default_root_dir, settings.logger.run_name);
  }
  if (options.predict_format != "csv" && options.predict_format != "npy") {
    throw UsageError("--output_format must be 'csv' or 'npy', got '" + options.predict_format + "'");
  }

  accelerator::AcceleratorConnector accelerator(settings.accelerator);
  accelerator::seed_everything(seed);
  data::DataConnector data(settings.data, seed);
  if (!checkpoint.empty()) {
    // Class names, vocabulary and standardisation come from the checkpoint, before the
    // model is sized from the data.
    data.load_state(read_checkpoint_info(checkpoint).data);
  }
  logging::LoggerConnector logger(settings.logger);
  Trainer trainer(settings.trainer, settings.model, settings.optimizer, settings.lr_scheduler, accelerator, logger,
                  data);
  if (stage == Stage::fit && settings.logger.write_files) {
    check_free_space(settings.logger.default_root_dir,
                     settings.trainer.enable_checkpointing ? trainer.estimated_checkpoint_bytes() : 0);
  }

  RunResult result;
  switch (stage) {
    case Stage::fit:
      result.metrics = trainer.fit(config_yaml, {checkpoint, options.ignore_config_changes});
      checkpoint = trainer.last_checkpoint();
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
  result.run_dir = logger.run_dir();
  result.checkpoint = checkpoint;
  return result;
}

}  // namespace trainer
