// A small residual network for 28x28 and 32x32 images, after the CIFAR-10 ResNets of
// He et al., "Deep Residual Learning for Image Recognition" (2016), section 4.2:
// a 3x3 stem, three stages of basic blocks with width, 2x width and 4x width
// channels (the last two halve height and width), global average pooling and one
// linear layer. Layer names follow torchvision's ResNet (layer1.0.conv1.weight, ...).

#include <ATen/Functions.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "core/errors.h"
#include "models/plugin.h"

namespace trainer::models {
namespace {

struct ResNetArgs : ModelArgs {
  int64_t depth = 2;
  int64_t width = 16;

  void visit(config::FieldVisitor& v) override {
    v.field("depth", depth, {"Residual blocks per stage; the net has 6 * depth + 2 weight layers.", {}, 1});
    v.field("width", width, {"Channels of the first stage; the second and third have 2x and 4x as many.", {}, 1});
    visit_init(v);
  }
};

torch::nn::Conv2d conv3x3(int64_t in_channels, int64_t out_channels, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_channels, out_channels, 3).stride(stride).padding(1).bias(false));
}

/// Two 3x3 convolutions with batch norm, added to the input. When the block changes
/// the shape, the input passes through a strided 1x1 convolution and batch norm first.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride)
      : conv1_(register_module("conv1", conv3x3(in_channels, out_channels, stride))),
        bn1_(register_module("bn1", torch::nn::BatchNorm2d(out_channels))),
        conv2_(register_module("conv2", conv3x3(out_channels, out_channels, 1))),
        bn2_(register_module("bn2", torch::nn::BatchNorm2d(out_channels))) {
    if (stride != 1 || in_channels != out_channels) {
      downsample_->push_back(torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in_channels, out_channels, 1).stride(stride).bias(false)));
      downsample_->push_back(torch::nn::BatchNorm2d(out_channels));
      register_module("downsample", downsample_);
    }
  }

  at::Tensor forward(const at::Tensor& inputs) {
    at::Tensor outputs = at::relu(bn1_->forward(conv1_->forward(inputs)));
    outputs = bn2_->forward(conv2_->forward(outputs));
    const at::Tensor shortcut = downsample_->is_empty() ? inputs : downsample_->forward(inputs);
    return at::relu(outputs + shortcut);
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Sequential downsample_;
};
TORCH_MODULE(BasicBlock);

class ResNet : public Model {
 public:
  ResNet(const ResNetArgs& args, const data::DataSpec& spec) : Model(spec.task) {
    if (spec.task == Task::next_token) {
      throw UsageError("model 'resnet' does classification and regression of images; for next-token data use "
                       "model 'gpt'");
    }
    if (spec.input_shape.size() != 3) {
      throw UsageError("model 'resnet' needs image inputs (channels, height, width); this dataset's samples have " +
                       std::to_string(spec.input_shape.size()) + " dimensions");
    }
    const int64_t width = args.width;
    conv1_ = register_module("conv1", conv3x3(spec.input_shape[0], width, 1));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(width));
    int64_t channels = width;
    const int64_t stage_widths[] = {width, 2 * width, 4 * width};
    for (int stage = 0; stage < 3; ++stage) {
      torch::nn::Sequential blocks;
      for (int64_t block = 0; block < args.depth; ++block) {
        const int64_t stride = (stage > 0 && block == 0) ? 2 : 1;
        blocks->push_back(BasicBlock(channels, stage_widths[stage], stride));
        channels = stage_widths[stage];
      }
      stages_.push_back(register_module("layer" + std::to_string(stage + 1), blocks));
    }
    fc_ = register_module("fc", torch::nn::Linear(channels, spec.num_outputs));
  }

  at::Tensor forward(const at::Tensor& inputs) override {
    at::Tensor features = at::relu(bn1_->forward(conv1_->forward(inputs)));
    for (torch::nn::Sequential& stage : stages_) features = stage->forward(features);
    return fc_->forward(features.mean({2, 3}));
  }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace

void register_resnet(ModelRegistry& registry) {
  add_model<ResNet, ResNetArgs>(registry, "resnet",
                                "Residual network for small images (28x28, 32x32): 6 * depth + 2 layers");
}

}  // namespace trainer::models
