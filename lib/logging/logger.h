#pragma once
/// The interface every metric file writer implements. The LoggerConnector owns the
/// loggers, decides what is logged and when, and calls them in this order:
/// log_hyperparams once, log_metrics per event, finalize once.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "logging/metrics.h"

namespace trainer::logging {

/// Kind of metrics event: one optimizer step, or the end of an epoch or stage.
enum class EventKind { step, epoch };

const char* event_kind_name(EventKind kind);

/// One row of metrics. `step` is the optimizer step: the global step for step events,
/// the epoch's last step for epoch events. Steps never decrease within a run.
struct MetricsEvent {
  EventKind kind = EventKind::step;
  int64_t epoch = 0;
  int64_t step = 0;
  double wall_time = 0;  ///< seconds since the Unix epoch
  Metrics metrics;
};

/// The resolved config, as YAML text and flattened to dotted keys with scalar values
/// (e.g. {"trainer.max_epochs", "10"}), for loggers that show a table of hyperparameters.
struct Hyperparams {
  std::string config_yaml;
  std::vector<std::pair<std::string, std::string>> flat;
};

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log_hyperparams(const Hyperparams& hparams, double wall_time) = 0;
  virtual void log_metrics(const MetricsEvent& event) = 0;
  /// Writes what belongs at the end of a run. `status` is "finished", "interrupted" or "failed";
  /// `final_metrics` holds the newest value of every metric logged.
  virtual void finalize(const std::string& status, const Metrics& final_metrics, double wall_time) = 0;
};

}  // namespace trainer::logging
