#pragma once
/// One CLI command from loaded settings to a finished run directory.

#include <string>

#include "config/settings.h"
#include "logging/metrics.h"

namespace trainer {

enum class Stage { fit, validate, test };

struct RunResult {
  std::string run_dir;
  std::string checkpoint;  ///< the checkpoint written (fit) or read (validate, test)
  logging::Metrics metrics;
};

/// Builds the three connectors from their settings, then the Trainer, and runs `stage`.
/// Everything that can fail on user input (device, data, model shape, checkpoint path)
/// fails before the run directory is created.
RunResult run_stage(Stage stage, config::ExperimentSettings settings, const std::string& ckpt_path);

}  // namespace trainer
