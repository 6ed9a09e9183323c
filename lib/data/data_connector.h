#pragma once
/// DataConnector: owns the datasets and the loaders of every stage.
/// Built from DataSettings and the run's seed alone; it knows nothing of the Trainer.

#include <cstdint>

#include "config/settings.h"
#include "data/dataset.h"
#include "data/loader.h"

namespace trainer::data {

class DataConnector {
 public:
  /// Loads the dataset named by `settings.class_path` and splits off validation
  /// samples with `seed`. Throws DataError when the data is missing or malformed.
  DataConnector(const config::DataSettings& settings, uint64_t seed);

  const DataSpec& spec() const { return spec_; }
  Loader& train_loader() { return train_; }
  Loader& val_loader() { return val_; }
  Loader& test_loader() { return test_; }

 private:
  DataSpec spec_;
  Loader train_;
  Loader val_;
  Loader test_;
};

}  // namespace trainer::data
