#pragma once
/// DataConnector: owns the datasets, samplers and loaders of every stage.
/// Built from DataSettings, the run's seed and this process's shard, never from the Trainer.

#include <cstdint>

#include "config/settings.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/sampler.h"

namespace trainer::data {

class DataConnector {
 public:
  /// Loads the dataset named by `settings.class_path`, splits off validation and test
  /// samples with `seed` where the dataset has no files for them, and fits the
  /// standardisation on the training split only. `shard` picks this rank's part of
  /// every stage (see Sampler); `pin_memory` is for a CUDA accelerator.
  /// Throws DataError when the data is missing or malformed.
  DataConnector(const config::DataSettings& settings, uint64_t seed, Shard shard = {}, bool pin_memory = false);

  const DataSpec& spec() const { return spec_; }
  Loader& train_loader() { return train_; }
  Loader& val_loader() { return val_; }
  Loader& test_loader() { return test_; }

  /// Returns what a checkpoint must carry to repeat this data exactly: the dataset's
  /// encoding ("dataset/classes", "dataset/vocabulary"), the fitted standardisation
  /// ("transform/mean", "transform/std") and the training loader's position
  /// ("train_loader/epoch", "train_loader/next_batch", "train_loader/seed").
  StateDict state() const;
  /// Restores a state() saved earlier: re-encodes the data with the saved classes or
  /// vocabulary (spec() then matches the saved run), replaces the standardisation and
  /// positions the training loader. Absent keys keep their current values. Throws
  /// DataError when this data cannot be encoded with the saved state, and
  /// CheckpointError when the saved seed differs.
  void load_state(const StateDict& state);

 private:
  void build_loaders();

  LoaderArgs loader_args_;
  uint64_t seed_ = 0;
  Shard shard_;
  bool pin_memory_ = false;
  LoadedData data_;  ///< the final train, val and test splits
  DataSpec spec_;
  Loader train_;
  Loader val_;
  Loader test_;
};

}  // namespace trainer::data
