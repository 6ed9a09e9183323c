#pragma once
/// Metric values and their epoch-level aggregation.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "logging/reducer.h"

namespace trainer::logging {

/// Named values in the order they were logged, e.g. {"val/loss", 0.31}, {"val/acc", 0.89}.
using Metrics = std::vector<std::pair<std::string, double>>;

/// Returns the value of `name` in `metrics`, or NaN when it is absent.
double find_metric(const Metrics& metrics, const std::string& name);

/// Formats a metric value compactly for logs and CSV (shortest text that reads back exactly).
std::string format_metric(double value);

/// Sums of (value × weight), or running extremes, kept as tensors on the compute device,
/// so logging a metric every step costs no device synchronisation; compute_and_reset()
/// reads them once.
class MetricAccumulator {
 public:
  /// Adds `weighted_sum` (a 0-dim tensor equal to value × weight) and `weight`
  /// (usually the batch size) to the metric `name`. With `sync`, compute_and_reset()
  /// also reduces the metric across processes.
  void add(const std::string& name, const at::Tensor& weighted_sum, int64_t weight, bool sync = false);
  /// Adds `value` (a 0-dim tensor) to the metric `name`, reduced by `reduction`: mean
  /// weights it by `batch_size`, sum adds it, max and min keep the extreme. With `sync`,
  /// compute_and_reset() also reduces the metric across processes.
  void update(const std::string& name, const at::Tensor& value, int64_t batch_size, Reduction reduction,
              bool sync = false);
  /// Returns each metric whose name starts with `prefix` (all when empty), reduced over
  /// the epoch and, for synced metrics, through `reducer`; then forgets those metrics.
  Metrics compute_and_reset(const std::string& prefix = "", Reducer* reducer = nullptr);
  bool empty() const { return entries_.empty(); }
  /// Returns what has been accumulated for the metrics whose name starts with `prefix`, as
  /// "<name>/sum", "<name>/weight", "<name>/reduction" and "<name>/sync" values, so that a
  /// checkpoint can carry a partial epoch. With `reducer` (a collective: every process
  /// calls it), synced metrics hold the totals over every process.
  std::map<std::string, double> state(const std::string& prefix, Reducer* reducer = nullptr) const;
  /// Replaces the metrics in `state` (from state()) with the saved values.
  void load_state(const std::map<std::string, double>& state);

 private:
  struct Entry {
    std::string name;
    at::Tensor sum;  ///< the weighted sum for mean and sum; the extreme so far for max and min
    int64_t weight = 0;
    Reduction reduction = Reduction::mean;
    bool sync = false;
  };
  Entry* find(const std::string& name);
  /// Replaces `synced` with rank 0's list of metrics, each reduced over every process
  /// (a mean's weighted sum and weight are summed).
  static void reduce_across(std::vector<Entry>& synced, Reducer& reducer);
  std::vector<Entry> entries_;
};

}  // namespace trainer::logging
