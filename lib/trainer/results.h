#pragma once
/// results.json: one file per run that scripts and sweeps read to learn how it ended.

#include <optional>
#include <string>
#include <vector>

#include "logging/metrics.h"

namespace trainer {

/// Record written as results.json. docs/SWEEPS.md documents its layout.
struct RunRecord {
  std::string status;  ///< completed, failed, interrupted or diverged
  int exit_code = 0;
  std::string stage;
  std::string error;  ///< the error message when the run did not complete
  std::string run_dir;
  double wall_time_seconds = 0;
  std::string config_hash;
  std::vector<std::string> overrides;
  logging::Metrics final_metrics;
  logging::Metrics best_metrics;
  std::string best_checkpoint;
  std::string monitor;
  std::optional<double> best_score;
  std::string last_checkpoint;
};

/// Returns the status word for an exit code: 0 completed, 6 diverged, 130/143/requeue
/// interrupted, anything else failed.
std::string status_for_exit_code(int exit_code);

/// Returns "fnv1a64:<16 hex digits>" of `text`; equal resolved configs hash equally.
std::string config_hash(const std::string& text);

/// Writes `record` as JSON with one top-level key per line, atomically.
void write_results_json(const std::string& path, const RunRecord& record);

}  // namespace trainer
