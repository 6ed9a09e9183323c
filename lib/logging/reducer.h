#pragma once
/// Reduction of logged metrics across the processes of a distributed run.

#include <ATen/core/Tensor.h>

#include <string>

namespace trainer::logging {

/// Rule that combines a metric's values within an epoch (and across processes) into one number.
enum class Reduction { mean, sum, max, min };

/// Combines a tensor across every process in place. The LoggerConnector uses it for
/// metrics logged with `sync_dist`; mean metrics are reduced as a (weighted sum, weight)
/// pair with Reduction::sum, so the result is the mean over every process's samples.
class Reducer {
 public:
  virtual ~Reducer() = default;
  virtual void all_reduce(at::Tensor& tensor, Reduction reduction) = 0;
  /// Returns rank 0's `text` on every process. Reductions use it to agree on which
  /// metrics to combine: a rank that read no batches has logged none.
  virtual std::string broadcast_text(const std::string& text) = 0;
};

/// One process: every tensor is already the total. A ddp run uses
/// accelerator::ProcessGroupReducer instead.
class IdentityReducer : public Reducer {
 public:
  void all_reduce(at::Tensor&, Reduction) override {}
  std::string broadcast_text(const std::string& text) override { return text; }
};

}  // namespace trainer::logging
