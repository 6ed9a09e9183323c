// Built-in models: output shapes, parameter counts and a few steps that lower the loss.

#include <ATen/Functions.h>
#include <torch/optim/adam.h>

#include "core/errors.h"
#include "models/model.h"
#include "settings_fixture.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::models {
namespace {

const data::DataSpec kImages{{1, 28, 28}, Task::classification, 10};

std::shared_ptr<Model> build(const std::string& yaml) {
  at::manual_seed(0);
  const auto settings = testing::settings_from_yaml(yaml);
  return model_registry().find(settings.model.class_path)->build(*settings.model.args, kImages);
}

/// Trains on one fixed random batch and returns the loss before and after 40 steps.
std::pair<double, double> overfit(Model& model) {
  at::manual_seed(0);
  const at::Tensor inputs = at::randn({16, 1, 28, 28});
  const at::Tensor targets = at::randint(10, {16});
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(1e-3));
  double first = 0;
  double last = 0;
  for (int step = 0; step < 40; ++step) {
    optimizer.zero_grad();
    const at::Tensor loss = at::cross_entropy_loss(model.forward(inputs), targets);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    optimizer.step();
  }
  return {first, last};
}

TEST_CASE("mlp shapes, size and learning") {
  const auto model = build("model:\n  class_path: mlp\n  init_args:\n    hidden_sizes: [32, 16]\n");
  CHECK((model->forward(at::zeros({4, 1, 28, 28})).sizes() == at::IntArrayRef{4, 10}));
  CHECK(count_parameters(*model) == (784 * 32 + 32) + (32 * 16 + 16) + (16 * 10 + 10));
  const auto [first, last] = overfit(*model);
  CHECK(last < first * 0.5);
}

TEST_CASE("mlp with gelu, batch norm and dropout") {
  const auto model = build(
      "model:\n  class_path: mlp\n  init_args:\n    hidden_sizes: [32]\n    activation: gelu\n"
      "    batch_norm: true\n    dropout: 0.1\n");
  CHECK((model->forward(at::zeros({4, 1, 28, 28})).sizes() == at::IntArrayRef{4, 10}));
  // Linear, BatchNorm1d, GELU, Dropout, Linear.
  CHECK(model->named_parameters().contains("layers.1.weight"));
  CHECK(model->named_buffers().contains("layers.1.running_mean"));
  CHECK(model->named_parameters().contains("layers.4.weight"));
  CHECK(count_parameters(*model) == (784 * 32 + 32) + 2 * 32 + (32 * 10 + 10));
  const auto [first, last] = overfit(*model);
  CHECK(last < first * 0.5);
}

TEST_CASE("mlp tanh differs from relu") {
  const std::string args = "model:\n  class_path: mlp\n  init_args:\n    hidden_sizes: [8]\n    init_seed: 3\n";
  const auto relu = build(args);
  const auto tanh = build(args + "    activation: tanh\n");
  const at::Tensor inputs = at::randn({2, 1, 28, 28});
  CHECK_FALSE(at::allclose(relu->forward(inputs), tanh->forward(inputs)));
}

TEST_CASE("init_seed gives the same weights whatever the global seed") {
  const std::string yaml = "model:\n  class_path: cnn\n  init_args:\n    init_seed: 7\n";
  at::manual_seed(1);
  const auto first = testing::settings_from_yaml(yaml);
  const auto a = model_registry().find("cnn")->build(*first.model.args, kImages);
  at::manual_seed(2);
  const auto b = model_registry().find("cnn")->build(*first.model.args, kImages);
  for (const auto& item : a->named_parameters()) {
    CHECK_MESSAGE(at::equal(item.value(), b->named_parameters()[item.key()]), item.key());
  }
  // Without init_seed, the weights come from the global stream.
  const auto c = build("model:\n  class_path: cnn\n");
  CHECK_FALSE(at::equal(a->named_parameters()["classifier.0.weight"], c->named_parameters()["classifier.0.weight"]));
}

TEST_CASE("cnn shapes, size and learning") {
  const auto model = build("model:\n  class_path: cnn\n");
  CHECK((model->forward(at::zeros({4, 1, 28, 28})).sizes() == at::IntArrayRef{4, 10}));
  // Defaults: conv 1->16 and 16->32 (3x3), then 32*7*7 -> 64 -> 10.
  CHECK(count_parameters(*model) == (9 * 16 + 16) + (9 * 16 * 32 + 32) + (1568 * 64 + 64) + (64 * 10 + 10));
  const auto [first, last] = overfit(*model);
  CHECK(last < first * 0.5);
}

TEST_CASE("cnn with batch norm and dropout") {
  const auto model = build("model:\n  class_path: cnn\n  init_args:\n    batch_norm: true\n    dropout: 0.25\n");
  CHECK((model->forward(at::zeros({2, 1, 28, 28})).sizes() == at::IntArrayRef{2, 10}));
}

TEST_CASE("cnn rejects too many pooling blocks") {
  CHECK_THROWS_WITH_AS(build("model:\n  class_path: cnn\n  init_args:\n    channels: [4, 4, 4, 4, 4, 4]\n"),
                       "model 'cnn' has 6 pooling blocks, too many for inputs of 28x28; use fewer "
                       "model.init_args.channels",
                       UsageError);
}

}  // namespace
}  // namespace trainer::models
