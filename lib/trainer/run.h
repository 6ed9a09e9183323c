#pragma once
/// One CLI command from loaded settings to a finished run directory.

#include <functional>
#include <string>
#include <vector>

#include "config/settings.h"
#include "logging/metrics.h"

namespace trainer {

enum class Stage { fit, validate, test, predict };

/// Command-line options of a run that are not config keys.
struct RunOptions {
  std::string ckpt_path;               ///< a path or "last"; fit resumes from it, the others evaluate it
  bool ignore_config_changes = false;  ///< fit: resume even when the model or data config changed
  std::string predict_format = "csv";  ///< predict: "csv" or "npy"
  std::vector<std::string> overrides;  ///< the command-line overrides, recorded in results.json
  /// Called with the run directory once results.json is written, also when the run then
  /// throws (stopped, failed), so a caller can always report where the run went.
  std::function<void(const std::string&)> on_finished;
};

struct RunResult {
  std::string run_dir;     ///< empty when nothing was written (fast_dev_run)
  std::string checkpoint;  ///< the checkpoint written (fit) or read (validate, test, predict)
  std::string output;      ///< predict: the predictions file
  logging::Metrics metrics;
};

/// Throws UsageError for command-line options that `stage` cannot use: a missing
/// --ckpt_path outside fit, or an --output_format other than csv and npy.
void check_run_options(Stage stage, const RunOptions& options);

/// Builds the three connectors from their settings, then the Trainer, and runs `stage`.
/// Everything that can fail on user input (device, data, model shape, checkpoint path)
/// fails before the run directory is created. Once the run directory exists, results.json
/// records how the run ended, also when it throws.
RunResult run_stage(Stage stage, config::ExperimentSettings settings, const RunOptions& options);

}  // namespace trainer
