#pragma once
/// The model interface the Trainer trains, and the model registry.

#include <torch/nn/module.h>

#include <memory>
#include <string>

#include "config/fields.h"
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

  /// Writes the model as a TorchScript file that `torch.jit.load` (Python) and
  /// `torch::jit::load` (C++) read. LibTorch cannot script a C++ module, so the
  /// default throws UsageError; models that hold a TorchScript module override it.
  virtual void save_torchscript(const std::string& path);

  Task task() const { return task_; }

 private:
  Task task_;
};

/// Arguments every model accepts; each model's init_args struct derives from this.
struct ModelArgs : config::Args {
  /// Seed of the weight initialisation; -1 draws from the global stream that
  /// seed_everything seeds, so the initial weights then depend on what ran before.
  int64_t init_seed = -1;

  /// Lists init_seed; call it from the derived struct's visit().
  void visit_init(config::FieldVisitor& v);
};

/// Models are built from their init_args and the data's shape (input size, classes),
/// so configs need not repeat what the dataset already states.
using ModelRegistry = Registry<std::shared_ptr<Model>, const data::DataSpec&>;

/// The model registry with the built-in models registered.
ModelRegistry& model_registry();

/// Builds the configured model sized for `spec`. Throws UsageError for an unknown class_path.
std::shared_ptr<Model> build_model(const config::Component& model, const data::DataSpec& spec);

/// Counts the elements of every parameter.
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace trainer::models
