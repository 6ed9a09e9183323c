#pragma once
/// LoggerConnector: owns the run directory's metric loggers, the console output (progress
/// display, model summary, final summary) and the aggregation of logged metrics. Built
/// from LoggerSettings alone; nothing else writes metrics.

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/settings.h"
#include "logging/logger.h"
#include "logging/metrics.h"
#include "logging/progress.h"
#include "logging/reducer.h"

namespace torch::nn {
class Module;
}

namespace trainer::logging {

/// Options of log(): when a value is written, how it is reduced, and where it is shown.
struct LogOptions {
  bool on_step = false;  ///< write the newest value at the next step event (log_every_n_steps)
  bool on_epoch = true;  ///< reduce over the epoch and write it at the epoch event
  Reduction reduce = Reduction::mean;
  bool prog_bar = false;    ///< show the value on the progress display
  int64_t batch_size = 1;   ///< the weight of this value in an epoch mean
  bool sync_dist = false;   ///< also reduce across processes (see Reducer)
};

/// Outcome of a fit, for the final summary and the loggers' last records.
struct RunSummary {
  std::string status = "finished";  ///< "finished", "interrupted" or "failed"
  int64_t epoch = 0;
  int64_t step = 0;
  double seconds = 0;
  int64_t train_samples = 0;
  std::string stop_reason;
  std::vector<std::string> notes;  ///< callback summaries, e.g. the best checkpoint
  Metrics last_metrics;            ///< the newest value of every metric
};

class LoggerConnector {
 public:
  /// `reducer` combines sync_dist metrics across processes; null means one process.
  /// `interactive` chooses the progress display's mode; by default, whether stderr is a terminal.
  explicit LoggerConnector(const config::LoggerSettings& settings, std::unique_ptr<Reducer> reducer = nullptr,
                           bool interactive = stderr_is_terminal());
  /// Finishes the loggers with status "failed" when neither end_run() nor finish_run() ran.
  ~LoggerConnector();
  LoggerConnector(const LoggerConnector&) = delete;
  LoggerConnector& operator=(const LoggerConnector&) = delete;

  /// Creates `<default_root_dir>/<run_name>/version_<N>/` with the next free N, writes
  /// `config_yaml` there as config.yaml, builds the configured loggers and logs the
  /// config to each of them. Throws std::runtime_error when the folder cannot be created
  /// and UsageError for an unknown logger.
  void begin_run(const std::string& config_yaml);
  /// The run directory; empty before begin_run() and when settings.write_files is false.
  const std::string& run_dir() const { return run_dir_; }

  /// Logs a metric from a model or the Trainer. `value` is a 0-dim tensor on any device;
  /// it is read (a device synchronisation) only when a step or epoch event writes it.
  /// A metric that is both on_step and on_epoch is written as "<name>_step" at steps and
  /// "<name>" at epochs.
  void log(const std::string& name, const at::Tensor& value, const LogOptions& options = {});

  /// Adds a batch's metric to the running epoch mean (see MetricAccumulator::add). The
  /// Trainer's loss and evaluation metrics are reduced across processes, so in a ddp run
  /// each epoch mean weighs every rank's samples.
  void accumulate(const std::string& name, const at::Tensor& weighted_sum, int64_t weight) {
    accumulator_.add(name, weighted_sum, weight, /*sync=*/true);
  }
  /// Returns the accumulated values of the metrics of `stage` for a checkpoint taken
  /// inside an epoch (see MetricAccumulator::state). With `across_ranks`, a collective,
  /// they are the totals over every rank of a ddp run.
  std::map<std::string, double> epoch_state(const std::string& stage, bool across_ranks = false) const {
    return accumulator_.state(stage + "/", across_ranks ? reducer_.get() : nullptr);
  }
  /// Restores epoch_state(), so a resumed epoch's metrics cover the batches before the resume too.
  void load_epoch_state(const std::map<std::string, double>& state) { accumulator_.load_state(state); }
  /// Returns the epoch values accumulated so far of the metrics of `stage` ("train" for
  /// train/...) and starts those over; other stages' values are kept.
  Metrics reduce(const std::string& stage);

  /// True when step metrics are due at this optimizer step.
  bool step_due(int64_t global_step) const {
    return global_step % settings_.log_every_n_steps == 0;
  }
  /// Shows batch `batch` of `total` of a stage. On a terminal the display redraws in
  /// place; otherwise nothing is printed here (log_step prints a line when due).
  void show_progress(const std::string& stage, int64_t epoch, int64_t batch, int64_t total);
  /// Writes step metrics (plus pending on_step values) to the loggers and, when stderr
  /// is not a terminal, one progress line to the console.
  void log_step(int64_t epoch, int64_t global_step, const Metrics& metrics, const std::string& progress);
  /// Writes metrics to the loggers only (the console shows them at debug level).
  void log_metrics(int64_t epoch, int64_t global_step, const Metrics& metrics);
  /// Writes epoch (or stage) metrics to the loggers and one line to the console.
  void log_epoch(int64_t epoch, int64_t global_step, const Metrics& metrics, const std::string& prefix);

  /// Logs the model summary table, one console line per row.
  void log_model_summary(const torch::nn::Module& model);
  /// Logs the final summary of a fit and finishes the loggers with its status.
  void end_run(const RunSummary& summary);
  /// Finishes the loggers (the JSON "end" line, TensorBoard's session end) without a
  /// summary, for validate, test and predict. Later calls do nothing.
  void finish_run(const std::string& status);

 private:
  void write_event(EventKind kind, int64_t epoch, int64_t step, const Metrics& metrics);
  void remember(const Metrics& metrics);
  Metrics shown_metrics() const;

  config::LoggerSettings settings_;
  std::unique_ptr<Reducer> reducer_;
  std::string run_dir_;
  std::vector<std::unique_ptr<Logger>> loggers_;
  bool finalized_ = true;
  MetricAccumulator accumulator_;
  std::vector<std::pair<std::string, at::Tensor>> step_values_;  ///< on_step values not yet written
  std::set<std::string> prog_bar_names_{"train/loss_step"};
  Metrics newest_;  ///< the newest value of every metric written, in first-written order
  int64_t last_step_ = -1;
  ProgressDisplay progress_;
  int64_t progress_batch_ = 0;
};

/// Joins metrics as "name=value name=value".
std::string format_metrics(const Metrics& metrics);

/// Flattens a YAML document to dotted keys with scalar values ("trainer.max_epochs" → "10");
/// list items are keyed by index ("trainer.callbacks.0.class_path").
std::vector<std::pair<std::string, std::string>> flatten_yaml(const std::string& yaml);

}  // namespace trainer::logging
