// The ResNet model: output shapes for grey 28x28 and RGB 32x32 images, size,
// learning and its configuration errors.

#include <ATen/Functions.h>

#include "core/errors.h"
#include "models_fixture.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::models {
namespace {

using testing::build_model;

const data::DataSpec kGrey{{1, 28, 28}, Task::classification, 10};
const data::DataSpec kColour{{3, 32, 32}, Task::classification, 10};

std::string resnet_yaml(int depth, int width) {
  return "model:\n  class_path: resnet\n  init_args:\n    depth: " + std::to_string(depth) +
         "\n    width: " + std::to_string(width) + "\n    init_seed: 0\n";
}

TEST_CASE("resnet shapes for grey and colour images") {
  const auto grey = build_model(resnet_yaml(1, 8), kGrey);
  CHECK((grey->forward(at::zeros({2, 1, 28, 28})).sizes() == at::IntArrayRef{2, 10}));
  const auto colour = build_model(resnet_yaml(2, 8), kColour);
  CHECK((colour->forward(at::zeros({2, 3, 32, 32})).sizes() == at::IntArrayRef{2, 10}));
}

TEST_CASE("resnet parameter count") {
  const auto model = build_model(resnet_yaml(1, 4), kGrey);
  auto conv = [](int64_t in, int64_t out, int64_t k) { return in * out * k * k; };
  auto bn = [](int64_t channels) { return 2 * channels; };
  const int64_t stem = conv(1, 4, 3) + bn(4);
  const int64_t stage1 = conv(4, 4, 3) + bn(4) + conv(4, 4, 3) + bn(4);
  // Stages 2 and 3 double the channels and halve the size, so their shortcut is a 1x1 conv.
  const int64_t stage2 = conv(4, 8, 3) + bn(8) + conv(8, 8, 3) + bn(8) + conv(4, 8, 1) + bn(8);
  const int64_t stage3 = conv(8, 16, 3) + bn(16) + conv(16, 16, 3) + bn(16) + conv(8, 16, 1) + bn(16);
  const int64_t classifier = 16 * 10 + 10;
  CHECK(count_parameters(*model) == stem + stage1 + stage2 + stage3 + classifier);
  CHECK(model->named_parameters().contains("layer2.0.downsample.0.weight"));
  CHECK(model->named_buffers().contains("layer3.0.bn2.running_mean"));
}

TEST_CASE("resnet learns a fixed batch") {
  const auto model = build_model(resnet_yaml(1, 8), kColour);
  at::manual_seed(0);
  const data::Batch batch{at::randn({16, 3, 32, 32}), at::randint(10, {16})};
  const auto [first, last] = testing::train_on_batch(*model, batch, 15, 1e-2);
  CHECK(last < first * 0.5);
}

TEST_CASE("resnet rejects non-image data") {
  CHECK_THROWS_WITH_AS(build_model(resnet_yaml(1, 4), data::DataSpec{{20}, Task::classification, 3}),
                       "model 'resnet' needs image inputs (channels, height, width); this dataset's samples have 1 "
                       "dimensions",
                       UsageError);
}

}  // namespace
}  // namespace trainer::models
