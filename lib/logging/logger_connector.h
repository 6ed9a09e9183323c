#pragma once
/// LoggerConnector: owns the run directory's metric files, the console output and
/// the aggregation of logged metrics. Built from LoggerSettings alone.

#include <cstdint>
#include <memory>
#include <string>

#include "config/settings.h"
#include "logging/csv_logger.h"
#include "logging/metrics.h"

namespace trainer::logging {

class LoggerConnector {
 public:
  explicit LoggerConnector(const config::LoggerSettings& settings);

  /// Creates `<default_root_dir>/<run_name>/version_<N>/` with the next free N and
  /// writes `config_yaml` there as config.yaml. Throws std::runtime_error when the
  /// folder cannot be created.
  void begin_run(const std::string& config_yaml);
  /// The run directory; empty before begin_run() and when settings.write_files is false.
  const std::string& run_dir() const { return run_dir_; }

  /// Adds a batch's metric to the running epoch mean (see MetricAccumulator::add).
  void accumulate(const std::string& name, const at::Tensor& weighted_sum, int64_t weight) {
    accumulator_.add(name, weighted_sum, weight);
  }
  /// Returns the means accumulated so far of the metrics of `stage` ("train" for
  /// train/...) and starts those over; other stages' sums are kept.
  Metrics reduce(const std::string& stage) { return accumulator_.compute_and_reset(stage + "/"); }

  /// True when step metrics are due at this optimizer step.
  bool step_due(int64_t global_step) const {
    return global_step % settings_.log_every_n_steps == 0;
  }
  /// Writes step metrics to metrics.csv and a progress line to the console.
  void log_step(int64_t epoch, int64_t global_step, const Metrics& metrics, const std::string& progress);
  /// Writes metrics to metrics.csv only (the console shows them at debug level).
  void log_metrics(int64_t epoch, int64_t global_step, const Metrics& metrics);
  /// Writes epoch (or stage) metrics to metrics.csv and one line to the console.
  void log_epoch(int64_t epoch, int64_t global_step, const Metrics& metrics, const std::string& prefix);

 private:
  config::LoggerSettings settings_;
  std::string run_dir_;
  std::unique_ptr<CsvLogger> csv_;
  MetricAccumulator accumulator_;
};

/// Joins metrics as "name=value name=value".
std::string format_metrics(const Metrics& metrics);

}  // namespace trainer::logging
