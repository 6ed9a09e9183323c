#pragma once
/// A TensorBoard event file in the run directory: scalars, the resolved config as text,
/// and hyperparameters with the final metrics for TensorBoard's HParams dashboard.

#include <memory>
#include <string>

#include "logging/logger.h"
#include "logging/tfrecord.h"

namespace trainer::logging {

/// Writes `events.out.tfevents.<unix seconds>.<hostname>` in the run directory. Each
/// record is a tensorflow.Event protobuf: the first holds file_version "brain.Event:2",
/// the others a Summary.
class TensorBoardLogger : public Logger {
 public:
  explicit TensorBoardLogger(const std::string& run_dir);

  /// Writes the config YAML as a text summary (tag "config") and the flattened
  /// config as the HParams plugin's session start.
  void log_hyperparams(const Hyperparams& hparams, double wall_time) override;
  /// Writes one Event at `event.step` with a simple_value per metric, tagged by its name.
  void log_metrics(const MetricsEvent& event) override;
  /// Writes the HParams experiment (the hyperparameter names and `final_metrics` names)
  /// and the session end with its status.
  void finalize(const std::string& status, const Metrics& final_metrics, double wall_time) override;

  const std::string& path() const { return writer_->path(); }

 private:
  void write_summary(double wall_time, int64_t step, const std::string& summary);

  std::unique_ptr<TfRecordWriter> writer_;
  Hyperparams hparams_;
  int64_t last_step_ = 0;  ///< the end-of-run summaries take the last step, so steps never decrease
};

}  // namespace trainer::logging
