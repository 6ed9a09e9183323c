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

RunResult run_stage(Stage stage, config::ExperimentSettings settings, const std::string& ckpt_path) {
  const std::string config_yaml = config::settings_to_yaml(settings);
  const auto seed = static_cast<uint64_t>(settings.seed_everything);

  std::string checkpoint;
  if (stage != Stage::fit) {
    if (ckpt_path.empty()) throw UsageError("--ckpt_path is required: name the checkpoint to evaluate, or 'last'");
    checkpoint = resolve_checkpoint_path(ckpt_path, settings.logger.default_root_dir, settings.logger.run_name);
  }

  accelerator::AcceleratorConnector accelerator(settings.accelerator);
  accelerator::seed_everything(seed);
  data::DataConnector data(settings.data, seed);
  logging::LoggerConnector logger(settings.logger);
  Trainer trainer(settings.trainer, settings.model, settings.optimizer, accelerator, logger, data);

  RunResult result;
  switch (stage) {
    case Stage::fit:
      result.metrics = trainer.fit(config_yaml);
      checkpoint = trainer.last_checkpoint();
      break;
    case Stage::validate:
      result.metrics = trainer.validate(checkpoint, config_yaml);
      break;
    case Stage::test:
      result.metrics = trainer.test(checkpoint, config_yaml);
      break;
  }
  result.run_dir = logger.run_dir();
  result.checkpoint = checkpoint;
  return result;
}

}  // namespace trainer
