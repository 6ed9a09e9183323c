#pragma once
/// Batches from an in-memory dataset by indexing contiguous tensors; no per-sample work.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "data/batch.h"
#include "data/dataset.h"
#include "data/sampler.h"

namespace trainer::data {

class Prefetcher;

struct LoaderOptions {
  int64_t batch_size = 1;
  /// Training loaders shuffle (when `shuffle` is set), augment, honour drop_last and
  /// shard with equal counts; evaluation loaders read every sample once.
  bool training = false;
  bool shuffle = false;
  bool drop_last = false;
  /// NOTE: workers run LibTorch ops that also use the intra-op thread pool. In a read-only
  /// benchmark on 2 CPU cores, 2 workers read about half as fast as none.
  int64_t num_workers = 0;
  /// Copy batches into page-locked memory for faster transfers to a CUDA device.
  bool pin_memory = false;
  Shard shard;
};

/// Position of a loader, enough to continue the same order after a restart.
struct LoaderState {
  int64_t epoch = 0;
  int64_t next_batch = 0;  ///< index of the first batch not yet returned in `epoch`
  uint64_t seed = 0;
};

class Loader {
 public:
  Loader();
  /// `seed` and the epoch number decide the shuffled order and the augmentation,
  /// so every epoch differs and every rerun with the same seed repeats it.
  Loader(TensorDataset data, const LoaderOptions& options, uint64_t seed, Transform transform);
  ~Loader();
  Loader(Loader&&) noexcept;
  Loader& operator=(Loader&&) noexcept;

  /// Samples this rank reads per epoch (before drop_last).
  int64_t num_samples() const;
  /// Samples in the whole dataset, across every rank's shard.
  int64_t dataset_size() const;
  int64_t batch_size() const;
  int64_t num_batches() const;
  /// Draws the order of `epoch`; call before reading batches of that epoch.
  void set_epoch(int64_t epoch);
  /// Returns batch `index` of the current epoch (the last one may be smaller). Its
  /// content depends only on (seed, epoch, index, shard). With num_workers > 0,
  /// reading batches in increasing order is served by background threads that
  /// build the next batches ahead; any other index restarts them from there.
  Batch batch(int64_t index);

  LoaderState state() const;
  /// Sets the epoch and position of `state`. Throws CheckpointError when its seed
  /// differs from this loader's, because the order would then differ too.
  void load_state(const LoaderState& state);

 private:
  struct Source;

  std::shared_ptr<const Source> source_;
  int64_t epoch_ = 0;
  int64_t next_batch_ = 0;
  at::Tensor indices_;  ///< this epoch's sample indices; undefined when reading in storage order
  std::unique_ptr<Prefetcher> prefetcher_;
};

}  // namespace trainer::data
