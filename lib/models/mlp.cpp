// A multilayer perceptron over flattened inputs.

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "core/errors.h"
#include "models/plugin.h"

namespace trainer::models {
namespace {

struct MlpArgs : ModelArgs {
  std::vector<int64_t> hidden_sizes{256};
  std::string activation = "relu";
  double dropout = 0.0;
  bool batch_norm = false;

  void visit(config::FieldVisitor& v) override {
    v.field("hidden_sizes", hidden_sizes, {"Width of each hidden layer, input side first.", {}, 1});
    v.field("activation", activation, {"Activation after each hidden layer.", {"relu", "gelu", "tanh"}});
    v.field("dropout", dropout, {"Dropout probability after each hidden layer.", {}, 0.0, 1.0});
    v.field("batch_norm", batch_norm, {"Add batch normalisation between each hidden layer and its activation."});
    visit_init(v);
  }
};

void push_activation(torch::nn::Sequential& layers, const std::string& name) {
  if (name == "gelu") {
    layers->push_back(torch::nn::GELU());
  } else if (name == "tanh") {
    layers->push_back(torch::nn::Tanh());
  } else {
    layers->push_back(torch::nn::ReLU());
  }
}

class Mlp : public Model {
 public:
  Mlp(const MlpArgs& args, const data::DataSpec& spec) : Model(spec.task) {
    if (spec.task == Task::next_token) {
      throw UsageError("model 'mlp' does classification and regression; for next-token data use model 'gpt'");
    }
    int64_t width = 1;
    for (int64_t dim : spec.input_shape) width *= dim;
    for (int64_t hidden : args.hidden_sizes) {
      layers_->push_back(torch::nn::Linear(width, hidden));
      if (args.batch_norm) layers_->push_back(torch::nn::BatchNorm1d(hidden));
      push_activation(layers_, args.activation);
      if (args.dropout > 0) layers_->push_back(torch::nn::Dropout(args.dropout));
      width = hidden;
    }
    layers_->push_back(torch::nn::Linear(width, spec.num_outputs));
    register_module("layers", layers_);
  }

  at::Tensor forward(const at::Tensor& inputs) override { return layers_->forward(inputs.flatten(1)); }

 private:
  torch::nn::Sequential layers_;
};

}  // namespace

void register_mlp(ModelRegistry& registry) {
  add_model<Mlp, MlpArgs>(registry, "mlp", "Multilayer perceptron on flattened inputs");
}

}  // namespace trainer::models
