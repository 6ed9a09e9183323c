#pragma once
/// The model interface the Trainer trains, and the model registry.

#include <torch/nn/module.h>

#include <memory>

#include "core/registry.h"
#include "data/dataset.h"

namespace trainer::models {

/// A network that maps a batch of inputs to class logits.
class Model : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& inputs) = 0;
};

/// Models are built from their init_args and the data's shape (input size, classes),
/// so configs need not repeat what the dataset already states.
using ModelRegistry = Registry<std::shared_ptr<Model>, const data::DataSpec&>;

/// The model registry with the built-in models registered.
ModelRegistry& model_registry();

/// Counts the elements of every parameter.
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace trainer::models
