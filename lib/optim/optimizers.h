#pragma once
/// The optimizer registry: sgd, adam and adamw, built over a model's parameters.

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "core/registry.h"

namespace torch::optim {
class Optimizer;
}

namespace trainer::optim {

using OptimizerRegistry = Registry<std::unique_ptr<torch::optim::Optimizer>, const std::vector<at::Tensor>&>;

/// The optimizer registry with the built-in optimizers registered.
OptimizerRegistry& optimizer_registry();

}  // namespace trainer::optim
