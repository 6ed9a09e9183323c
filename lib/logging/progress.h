#pragma once
/// The progress display of one stage (train, val, test): epoch, batch n/N, it/s, ETA,
/// and the metrics marked for the progress bar.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "logging/metrics.h"

namespace trainer::logging {

/// True when stderr is a terminal, where the display may redraw in place.
bool stderr_is_terminal();

class ProgressDisplay {
 public:
  /// On a terminal (`interactive`), update() redraws one line of `stream` in place with
  /// '\r' and the ANSI erase-line sequence. Otherwise update() writes nothing and the
  /// caller logs line() at its own interval, so files and CI logs get no control characters.
  ProgressDisplay(bool interactive, std::FILE* stream);

  /// Starts timing a stage; batch counts and rates restart from `first_batch`.
  void start(const std::string& stage, int64_t epoch, int64_t total_batches, int64_t first_batch = 0);
  /// Shows `batch` of the current stage (1-based: the number done) with `shown` metrics.
  /// Redraws at most every 0.1 s, and always at the last batch.
  void update(int64_t batch, const Metrics& shown);
  /// Erases the drawn line, so that other output starts on a clean line.
  void clear();

  /// "train epoch=0 batch=5/20 it/s=410.2 eta=0.0s train/loss_step=0.4121", at `batch`.
  std::string line(int64_t batch, const Metrics& shown) const;
  /// "it/s=410.2 eta=0.0s" at `batch`, or "it/s=- eta=-" before the first batch is done.
  std::string rates(int64_t batch) const;
  bool interactive() const { return interactive_; }
  const std::string& stage() const { return stage_; }
  int64_t epoch() const { return epoch_; }

 private:
  using Clock = std::chrono::steady_clock;

  bool interactive_;
  std::FILE* stream_;
  std::string stage_;
  int64_t epoch_ = 0;
  int64_t total_ = 0;
  int64_t first_batch_ = 0;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace trainer::logging
