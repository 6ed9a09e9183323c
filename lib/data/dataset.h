#pragma once
/// In-memory datasets, the dataset registry and the arguments every loader shares.

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "config/fields.h"
#include "core/task.h"
#include "core/registry.h"
#include "data/state_dict.h"
#include "data/transforms.h"

namespace trainer::data {

/// Data properties a model sizes itself from.
struct DataSpec {
  std::vector<int64_t> input_shape;  ///< one sample's shape, without the batch dimension
  Task task = Task::classification;
  /// Output width: classes (classification), target columns (regression) or vocabulary size (next_token).
  int64_t num_outputs = 0;
};

/// Samples stored as two tensors indexed along dimension 0.
struct TensorDataset {
  at::Tensor inputs;
  at::Tensor targets;

  int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
  /// Returns the samples at `indices` (an int64 tensor).
  TensorDataset select(const at::Tensor& indices) const;
};

/// The output of a dataset factory. The DataConnector carves `val` and `test` out of
/// `train` (by the loader's val_size and test_size) when the factory leaves them empty.
struct LoadedData {
  TensorDataset train;
  TensorDataset val;
  TensorDataset test;
  DataSpec spec;
  Transform transform;
  /// Encoding state derived from the training file, such as "classes" or "vocabulary".
  StateDict state;
  /// Re-encodes every split and the spec to match a saved `state`; null when the
  /// dataset has no encoding state. Throws DataError when the data cannot be re-encoded.
  std::function<void(const StateDict& saved, LoadedData& data)> restore;
};

/// Loader arguments shared by every dataset; dataset arguments derive from this.
struct LoaderArgs {
  int64_t batch_size = 128;
  config::BatchLimit val_size{5000, false};  ///< an int counts samples, a float is a fraction
  config::BatchLimit test_size{0, false};
  bool shuffle = true;
  bool drop_last = false;
  int64_t num_workers = 0;

  void visit_loader(config::FieldVisitor& v);
};

using DataRegistry = Registry<LoadedData>;

/// The dataset registry with the built-in datasets registered.
DataRegistry& data_registry();

}  // namespace trainer::data
