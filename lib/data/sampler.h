#pragma once
/// Samplers: the samples each rank reads in each epoch, and their order.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <initializer_list>

namespace trainer::data {

/// This process's part of the data when several ranks train together.
struct Shard {
  int64_t rank = 0;
  int64_t world_size = 1;
};

/// Hashes `values` (SplitMix64 steps) into one generator seed, so that nearby
/// inputs such as consecutive epochs give unrelated random streams.
uint64_t mix_seed(std::initializer_list<uint64_t> values);

/// Sample indices of one rank per epoch.
///
/// Training: the epoch's order (a permutation drawn from (seed, epoch) when
/// shuffling) is dealt round-robin to the ranks. When the sample count is not a
/// multiple of world_size, the last `count % world_size` samples of the order are
/// dropped for that epoch. So every rank reads the same number of samples, ranks
/// step together, and no sample is repeated.
/// Evaluation: rank r reads samples r, r + world_size, ... in storage order, so
/// the ranks together read every sample exactly once and counts may differ by one.
class Sampler {
 public:
  Sampler() = default;
  /// Throws DataError for a shard outside the world.
  Sampler(int64_t num_samples, bool shuffle, bool training, Shard shard, uint64_t seed);

  /// Samples this rank reads per epoch.
  int64_t size() const { return size_; }
  /// Returns this rank's indices for `epoch` in reading order, or an undefined
  /// tensor when that order is simply 0, 1, ..., size() - 1.
  at::Tensor indices(int64_t epoch) const;

 private:
  int64_t num_samples_ = 0;
  bool shuffle_ = false;
  bool training_ = false;
  Shard shard_;
  uint64_t seed_ = 0;
  int64_t size_ = 0;
};

}  // namespace trainer::data
