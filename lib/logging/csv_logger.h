#pragma once
/// metrics.csv: one row per logged event, one column per metric.

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "logging/logger.h"
#include "logging/metrics.h"

namespace trainer::logging {

class CsvLogger : public Logger {
 public:
  /// Creates (or truncates) the file at `path` lazily, on the first row.
  explicit CsvLogger(std::string path);
  ~CsvLogger() override;
  CsvLogger(const CsvLogger&) = delete;
  CsvLogger& operator=(const CsvLogger&) = delete;

  /// Appends a row with columns epoch and step plus `metrics`. A metric never seen
  /// before adds a column: the file is then rewritten whole (atomically) with the
  /// new header, and earlier rows keep empty cells for it. Each row is flushed.
  void log(int64_t epoch, int64_t step, const Metrics& metrics);

  /// Writes the config as hparams.yaml beside the metrics file.
  void log_hyperparams(const Hyperparams& hparams, double wall_time) override;
  void log_metrics(const MetricsEvent& event) override { log(event.epoch, event.step, event.metrics); }
  void finalize(const std::string&, const Metrics&, double) override {}

  const std::string& path() const { return path_; }

 private:
  std::string format_row(const std::map<std::string, std::string>& row) const;
  std::string header() const;
  void reopen_for_append();

  std::string path_;
  std::vector<std::string> columns_;
  std::vector<std::map<std::string, std::string>> rows_;
  std::FILE* file_ = nullptr;
};

}  // namespace trainer::logging
