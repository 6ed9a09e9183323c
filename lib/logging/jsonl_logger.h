#pragma once
/// metrics.jsonl: one JSON object per line and event, for scripts and sweeps.
///
/// Every line has "event" ("hparams", "step", "epoch" or "end") and "time" (seconds
/// since the Unix epoch); metric events add "epoch", "step" and "metrics". NaN and
/// infinite values are written as null, which is what JSON allows.

#include <cstdio>
#include <string>

#include "logging/logger.h"

namespace trainer::logging {

class JsonlLogger : public Logger {
 public:
  /// Creates (or truncates) the file at `path`.
  explicit JsonlLogger(std::string path);
  ~JsonlLogger() override;
  JsonlLogger(const JsonlLogger&) = delete;
  JsonlLogger& operator=(const JsonlLogger&) = delete;

  /// Writes {"event": "hparams", "time", "hparams": {dotted key: value text}, "config": YAML text}.
  void log_hyperparams(const Hyperparams& hparams, double wall_time) override;
  void log_metrics(const MetricsEvent& event) override;
  /// Writes {"event": "end", "time", "status", "metrics"}.
  void finalize(const std::string& status, const Metrics& final_metrics, double wall_time) override;

 private:
  void write_line(const std::string& line);

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace trainer::logging
