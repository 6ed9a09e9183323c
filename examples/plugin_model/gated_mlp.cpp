// An example plug-in model: a gated MLP, out = W3 (W1 x * sigmoid(W2 x)), on flattened
// inputs. Select it in a config with `model.class_path: gated_mlp`.

#include <ATen/Functions.h>
#include <torch/nn/modules/linear.h>

#include "core/errors.h"
#include "models/plugin.h"

namespace {

using trainer::models::Model;

/// init_args of gated_mlp; the defaults are the model's defaults.
struct GatedMlpArgs : trainer::models::ModelArgs {
  int64_t hidden_size = 128;

  void visit(trainer::config::FieldVisitor& v) override {
    v.field("hidden_size", hidden_size, {"Width of the gated hidden layer.", {}, 1});
    visit_init(v);  // init_seed, which every model accepts
  }
};

class GatedMlp : public Model {
 public:
  /// `spec` describes the data: one sample's shape, the task and the output width.
  GatedMlp(const GatedMlpArgs& args, const trainer::data::DataSpec& spec) : Model(spec.task) {
    if (spec.task == trainer::Task::next_token) {
      throw trainer::UsageError("model 'gated_mlp' does classification and regression, not next-token prediction");
    }
    int64_t inputs = 1;
    for (int64_t dim : spec.input_shape) inputs *= dim;
    value_ = register_module("value", torch::nn::Linear(inputs, args.hidden_size));
    gate_ = register_module("gate", torch::nn::Linear(inputs, args.hidden_size));
    output_ = register_module("output", torch::nn::Linear(args.hidden_size, spec.num_outputs));
  }

  at::Tensor forward(const at::Tensor& inputs) override {
    const at::Tensor x = inputs.flatten(1);
    return output_->forward(value_->forward(x) * at::sigmoid(gate_->forward(x)));
  }

 private:
  torch::nn::Linear value_{nullptr};
  torch::nn::Linear gate_{nullptr};
  torch::nn::Linear output_{nullptr};
};

}  // namespace

// The one line that adds the model to the registry.
TRAINER_REGISTER_MODEL("gated_mlp", GatedMlp, GatedMlpArgs, "Gated MLP on flattened inputs (plug-in example)");
