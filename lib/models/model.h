#pragma once
/// The model interface the Trainer trains, and the model registry.

#include <torch/nn/module.h>

#include <memory>

#include "core/registry.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "models/task.h"

namespace trainer::models {

/// A network the Trainer trains. Its task decides the loss and the metrics.
class Model : public torch::nn::Module {
 public:
  explicit Model(Task task) : task_(task) {}

  virtual at::Tensor forward(const at::Tensor& inputs) = 0;

  /// Runs one batch (already on the device): forward, then the task's loss and, with
  /// `with_metrics`, its metric sums. Models that compute their own loss override this.
  virtual StepOutput step(const data::Batch& batch, bool with_metrics) {
    return compute_task_loss(task_, forward(batch.inputs), batch.targets, with_metrics);
  }

  Task task() const { return task_; }

 private:
  Task task_;
};

/// Models are built from their init_args and the data's shape (input size, classes),
/// so configs need not repeat what the dataset already states.
using ModelRegistry = Registry<std::shared_ptr<Model>, const data::DataSpec&>;

/// The model registry with the built-in models registered.
ModelRegistry& model_registry();

/// Counts the elements of every parameter.
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace trainer::models
