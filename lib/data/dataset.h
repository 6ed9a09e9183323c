#pragma once
/// In-memory datasets, the dataset registry and the arguments every loader shares.

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "config/fields.h"
#include "core/task.h"
#include "core/registry.h"

namespace trainer::data {

/// What a model needs to know about the data to size itself.
struct DataSpec {
  std::vector<int64_t> input_shape;  ///< one sample's shape, without the batch dimension
  Task task = Task::classification;
  /// Output width: classes (classification), target columns (regression) or vocabulary size (next_token).
  int64_t num_outputs = 0;
};

/// Samples stored as two contiguous tensors indexed along dimension 0.
struct TensorDataset {
  at::Tensor inputs;
  at::Tensor targets;

  int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
  /// Returns the samples at `indices` (an int64 tensor).
  TensorDataset select(const at::Tensor& indices) const;
};

/// Turns stored inputs (for example uint8 pixels) into model inputs for one batch.
using InputTransform = std::function<at::Tensor(const at::Tensor&)>;

/// What a dataset factory returns: a train set (split into train and val by the
/// DataConnector unless `val` is given) and a test set.
struct LoadedData {
  TensorDataset train;
  TensorDataset val;  ///< empty: carve validation out of `train`
  TensorDataset test;
  DataSpec spec;
  InputTransform transform;
};

/// Loader arguments shared by every dataset; dataset arguments derive from this.
struct LoaderArgs {
  int64_t batch_size = 128;
  int64_t val_size = 5000;
  bool shuffle = true;

  void visit_loader(config::FieldVisitor& v);
};

using DataRegistry = Registry<LoadedData>;

/// The dataset registry with the built-in datasets registered.
DataRegistry& data_registry();

}  // namespace trainer::data
