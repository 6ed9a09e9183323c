// A small convolutional network: conv blocks (conv, ReLU, 2x2 max-pool), then a classifier.

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "core/errors.h"
#include "models/plugin.h"

namespace trainer::models {
namespace {

struct CnnArgs : ModelArgs {
  std::vector<int64_t> channels{16, 32};
  int64_t kernel_size = 3;
  int64_t hidden_size = 64;
  double dropout = 0.0;
  bool batch_norm = false;

  void visit(config::FieldVisitor& v) override {
    v.field("channels", channels, {"Output channels of each conv block; each block halves height and width.", {}, 1});
    v.field("kernel_size", kernel_size, {"Odd side length of every conv kernel ('same' padding).", {}, 1});
    v.field("hidden_size", hidden_size, {"Width of the hidden linear layer; 0 for none.", {}, 0});
    v.field("dropout", dropout, {"Dropout probability before each linear layer.", {}, 0.0, 1.0});
    v.field("batch_norm", batch_norm, {"Add batch normalisation after each convolution."});
    visit_init(v);
  }
};

class Cnn : public Model {
 public:
  Cnn(const CnnArgs& args, const data::DataSpec& spec) : Model(spec.task) {
    if (spec.input_shape.size() != 3) {
      throw UsageError("model 'cnn' needs image inputs (channels, height, width); this dataset's samples have " +
                       std::to_string(spec.input_shape.size()) + " dimensions");
    }
    if (args.kernel_size % 2 == 0) {
      throw UsageError("model.init_args.kernel_size must be odd for 'same' padding, got " +
                       std::to_string(args.kernel_size));
    }
    int64_t in_channels = spec.input_shape[0];
    int64_t height = spec.input_shape[1];
    int64_t width = spec.input_shape[2];
    for (int64_t out_channels : args.channels) {
      features_->push_back(torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in_channels, out_channels, args.kernel_size).padding(args.kernel_size / 2)));
      if (args.batch_norm) features_->push_back(torch::nn::BatchNorm2d(out_channels));
      features_->push_back(torch::nn::ReLU());
      features_->push_back(torch::nn::MaxPool2d(2));
      in_channels = out_channels;
      height /= 2;
      width /= 2;
    }
    if (height < 1 || width < 1) {
      throw UsageError("model 'cnn' has " + std::to_string(args.channels.size()) +
                       " pooling blocks, too many for inputs of " + std::to_string(spec.input_shape[1]) + "x" +
                       std::to_string(spec.input_shape[2]) + "; use fewer model.init_args.channels");
    }

    int64_t features = in_channels * height * width;
    if (args.dropout > 0) classifier_->push_back(torch::nn::Dropout(args.dropout));
    if (args.hidden_size > 0) {
      classifier_->push_back(torch::nn::Linear(features, args.hidden_size));
      classifier_->push_back(torch::nn::ReLU());
      if (args.dropout > 0) classifier_->push_back(torch::nn::Dropout(args.dropout));
      features = args.hidden_size;
    }
    classifier_->push_back(torch::nn::Linear(features, spec.num_outputs));
    register_module("features", features_);
    register_module("classifier", classifier_);
  }

  at::Tensor forward(const at::Tensor& inputs) override {
    return classifier_->forward(features_->forward(inputs).flatten(1));
  }

 private:
  torch::nn::Sequential features_;
  torch::nn::Sequential classifier_;
};

}  // namespace

void register_cnn(ModelRegistry& registry) {
  add_model<Cnn, CnnArgs>(registry, "cnn", "Convolutional network for images: conv blocks, then linear layers");
}

}  // namespace trainer::models
