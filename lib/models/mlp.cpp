// A multilayer perceptron over flattened inputs.

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/activation.h>

#include "core/errors.h"
#include "models/model.h"

namespace trainer::models {
namespace {

struct MlpArgs : config::Args {
  std::vector<int64_t> hidden_sizes{256};
  double dropout = 0.0;

  void visit(config::FieldVisitor& v) override {
    v.field("hidden_sizes", hidden_sizes, {"Width of each hidden layer, input side first.", {}, 1});
    v.field("dropout", dropout, {"Dropout probability after each hidden layer.", {}, 0.0, 1.0});
  }
};

class Mlp : public Model {
 public:
  Mlp(const MlpArgs& args, const data::DataSpec& spec) : Model(spec.task) {
    if (spec.task == Task::next_token) {
      throw UsageError("model 'mlp' does classification and regression; for next-token data use a sequence model");
    }
    int64_t width = 1;
    for (int64_t dim : spec.input_shape) width *= dim;
    for (int64_t hidden : args.hidden_sizes) {
      layers_->push_back(torch::nn::Linear(width, hidden));
      layers_->push_back(torch::nn::ReLU());
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
  registry.add<MlpArgs>("mlp", "Multilayer perceptron on flattened inputs",
                        [](const MlpArgs& args, const data::DataSpec& spec) -> std::shared_ptr<Model> {
                          return std::make_shared<Mlp>(args, spec);
                        });
}

}  // namespace trainer::models
