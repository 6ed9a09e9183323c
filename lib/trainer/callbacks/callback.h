#pragma once
/// Callbacks: small objects the Trainer calls at fixed points of the loop. They see the
/// loop through a narrow CallbackContext and never hold the Trainer.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/registry.h"
#include "logging/metrics.h"

namespace trainer::callbacks {

/// A logged metric's newest value and when it was logged.
struct MetricValue {
  double value = 0;
  int64_t step = 0;
  int64_t epoch = 0;
};
using MetricHistory = std::map<std::string, MetricValue>;

/// The loop's interface for callbacks: its position, its metrics and a few actions.
class CallbackContext {
 public:
  virtual ~CallbackContext() = default;
  virtual int64_t epoch() const = 0;        ///< epoch in progress, from 0
  virtual int64_t global_step() const = 0;  ///< optimizer steps taken
  /// Newest value of every metric logged so far in this fit.
  virtual const MetricHistory& metrics() const = 0;
  virtual std::string checkpoint_dir() const = 0;
  /// Writes a resumable checkpoint of the current loop position to `path`.
  virtual void save_checkpoint(const std::string& path) = 0;
  /// Ends fit after the current step or epoch; `reason` is logged.
  virtual void request_stop(const std::string& reason) = 0;
  /// Learning rate of each optimizer parameter group.
  virtual std::vector<double> learning_rates() const = 0;
  virtual void log_metrics(const logging::Metrics& metrics) = 0;
};

using CallbackState = std::map<std::string, std::string>;

/// The best checkpoint a checkpointing callback kept, for summaries and results.json.
struct BestCheckpoint {
  std::string path;
  std::string monitor;  ///< empty when ranked by recency
  double score = 0;
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_fit_start(CallbackContext&) {}
  /// After each optimizer step (and any validation it triggered).
  virtual void on_train_step_end(CallbackContext&) {}
  /// After each validation run, with its metrics in the history.
  virtual void on_validation_end(CallbackContext&) {}
  /// After the epoch's training, validation and scheduler step.
  virtual void on_train_epoch_end(CallbackContext&) {}
  virtual void on_fit_end(CallbackContext&) {}

  /// State saved in checkpoints and restored on resume.
  virtual CallbackState state() const { return {}; }
  virtual void load_state(const CallbackState&) {}
  /// One line for the final summary, or "".
  virtual std::string summary() const { return ""; }
  /// The best checkpoint kept, for callbacks that keep checkpoints.
  virtual std::optional<BestCheckpoint> best_checkpoint() const { return std::nullopt; }
};

using CallbackRegistry = Registry<std::unique_ptr<Callback>>;

/// The callback registry with model_checkpoint, early_stopping and lr_monitor.
CallbackRegistry& callback_registry();

/// Formats a checkpoint file name from a template such as
/// "epoch={epoch}-val_loss={val/loss:.4f}": {epoch} and {step} are the loop position,
/// other names are metrics, with an optional printf-style precision (.Nf, .Ne or .Ng).
/// Throws UsageError for an unknown metric or format.
std::string format_checkpoint_name(const std::string& pattern, int64_t epoch, int64_t step,
                                   const MetricHistory& metrics);

}  // namespace trainer::callbacks
