#pragma once
/// Batches from an in-memory dataset by indexing contiguous tensors; no per-sample work.

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "data/dataset.h"

namespace trainer::data {

struct Batch {
  at::Tensor inputs;
  at::Tensor targets;

  int64_t size() const { return targets.size(0); }
};

class Loader {
 public:
  Loader() = default;
  /// `seed` and the epoch number decide the shuffled order, so every epoch differs
  /// and every rerun with the same seed repeats it.
  Loader(TensorDataset data, int64_t batch_size, bool shuffle, uint64_t seed, InputTransform transform);

  int64_t num_samples() const { return data_.size(); }
  int64_t num_batches() const;
  /// Draws the order of `epoch`; call before reading batches of that epoch.
  void set_epoch(int64_t epoch);
  /// Returns batch `index` of the current epoch (the last one may be smaller).
  Batch batch(int64_t index) const;

 private:
  TensorDataset data_;
  int64_t batch_size_ = 1;
  bool shuffle_ = false;
  uint64_t seed_ = 0;
  InputTransform transform_;
  at::Tensor order_;  ///< int64 permutation of the samples; undefined when not shuffling
};

}  // namespace trainer::data
