#pragma once
/// Gradient averaging of a ddp run, in buckets that are all-reduced while backward runs.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace trainer::accelerator {

class ProcessGroup;

/// Averages the gradients of `parameters` over every rank of a ddp run. The parameters
/// are packed, last first (the order backward produces their gradients), into flat
/// buckets of one dtype and at most `bucket_cap_bytes` each (one parameter may exceed it).
/// A hook on each parameter copies its gradient into its bucket, and a bucket's
/// all-reduce starts as soon as its last gradient arrives, so it overlaps with the rest
/// of backward.
///
/// Per optimizer step, on every rank: arm() before the backward of the window's last
/// batch, then finish() after it, also when that batch was skipped. finish() starts the
/// buckets whose gradients did not all arrive, from the gradients as they are (zeros
/// for none). Buckets always start in the same order on every rank, because c10d
/// matches collectives by their order.
class GradientReducer {
 public:
  GradientReducer(ProcessGroup& group, const std::vector<at::Tensor>& parameters, int64_t bucket_cap_bytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  int64_t num_buckets() const;
  /// Buckets started so far in this step; between backward and finish() it shows how many
  /// all-reduces backward started on its own.
  int64_t started_buckets() const;
  /// Makes the hooks fill buckets during the next backward pass.
  void arm();
  /// Starts the buckets that are not started yet, waits for all, and replaces every
  /// parameter's gradient with the mean over the ranks. Disarms the hooks.
  void finish();

 private:
  struct State;
  /// The hooks, which outlive this object on the parameters, reach it through weak references.
  std::shared_ptr<State> state_;
};

}  // namespace trainer::accelerator
