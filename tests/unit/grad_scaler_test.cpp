// GradScaler: dynamic loss scaling on CPU tensors, alone and with a real Linear model.

#include <ATen/Functions.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "accelerator/grad_scaler.h"
#include "core/errors.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::accelerator {
namespace {

/// Returns a leaf tensor whose gradient is `gradient`, a stand-in for a model parameter.
at::Tensor parameter_with_grad(const at::Tensor& gradient) {
  at::Tensor parameter = at::zeros_like(gradient).requires_grad_(true);
  parameter.mutable_grad() = gradient.clone();
  return parameter;
}

GradScalerOptions small_interval(int64_t growth_interval) {
  GradScalerOptions options;
  options.growth_interval = growth_interval;
  return options;
}

TEST_CASE("grad scaler default options") {
  GradScaler scaler;
  CHECK(scaler.enabled());
  CHECK(scaler.current_scale() == 65536.0);
  CHECK(scaler.growth_tracker() == 0);
}

TEST_CASE("grad scaler multiplies the loss") {
  GradScaler scaler;
  const at::Tensor loss = at::scalar_tensor(0.25, at::kFloat);
  CHECK(scaler.scale(loss).item<double>() == 16384.0);
  CHECK((scaler.scale(loss).scalar_type() == at::kFloat));
}

TEST_CASE("grad scaler unscale divides gradients") {
  GradScalerOptions options;
  options.init_scale = 8.0;
  GradScaler scaler(options);
  at::Tensor first = parameter_with_grad(at::tensor({8.0, 16.0, -4.0}));
  at::Tensor second = parameter_with_grad(at::tensor({2.0, 0.0}).reshape({1, 2}));
  at::Tensor without_grad = at::zeros({3}).requires_grad_(true);
  CHECK_FALSE(scaler.unscale_and_find_inf({first, without_grad, second}));
  CHECK(at::equal(first.grad(), at::tensor({1.0, 2.0, -0.5})));
  CHECK(at::equal(second.grad(), at::tensor({0.25, 0.0}).reshape({1, 2})));
  CHECK_FALSE(without_grad.grad().defined());
}

TEST_CASE("grad scaler inf gradient backs off") {
  GradScaler scaler(small_interval(3));
  scaler.update(false);
  REQUIRE(scaler.growth_tracker() == 1);
  at::Tensor finite = parameter_with_grad(at::ones({4}));
  at::Tensor overflowed = parameter_with_grad(at::tensor({1.0, INFINITY}));
  const bool found_inf = scaler.unscale_and_find_inf({finite, overflowed});
  CHECK(found_inf);
  scaler.update(found_inf);
  CHECK(scaler.current_scale() == 32768.0);
  CHECK(scaler.growth_tracker() == 0);
}

TEST_CASE("grad scaler nan gradient backs off") {
  GradScaler scaler;
  at::Tensor parameter = parameter_with_grad(at::tensor({NAN, 1.0}));
  const bool found_inf = scaler.unscale_and_find_inf({parameter});
  CHECK(found_inf);
  scaler.update(found_inf);
  CHECK(scaler.current_scale() == 32768.0);
}

TEST_CASE("grad scaler grows after growth_interval clean steps") {
  GradScaler scaler(small_interval(3));
  scaler.update(false);
  scaler.update(false);
  CHECK(scaler.current_scale() == 65536.0);
  CHECK(scaler.growth_tracker() == 2);
  scaler.update(false);
  CHECK(scaler.current_scale() == 131072.0);
  CHECK(scaler.growth_tracker() == 0);

  // An overflow in between restarts the count.
  scaler.update(false);
  scaler.update(true);
  scaler.update(false);
  scaler.update(false);
  CHECK(scaler.current_scale() == 65536.0);
  CHECK(scaler.growth_tracker() == 2);
}

TEST_CASE("grad scaler stops growing below float32 max") {
  GradScalerOptions options = small_interval(1);
  options.init_scale = 2e38;
  GradScaler scaler(options);
  scaler.update(false);
  CHECK(scaler.current_scale() == 2e38);
  CHECK(scaler.growth_tracker() == 0);
  CHECK(scaler.current_scale() <= std::numeric_limits<float>::max());
}

TEST_CASE("grad scaler rejects a second unscale") {
  GradScaler scaler;
  at::Tensor parameter = parameter_with_grad(at::ones({2}));
  CHECK_FALSE(scaler.unscale_and_find_inf({parameter}));
  CHECK_THROWS_AS(scaler.unscale_and_find_inf({parameter}), std::logic_error);
  scaler.update(false);
  CHECK_NOTHROW(scaler.unscale_and_find_inf({parameter}));
}

TEST_CASE("grad scaler state round-trips") {
  GradScaler scaler(small_interval(5));
  scaler.update(true);
  scaler.update(false);
  scaler.update(false);
  const std::map<std::string, double> state = scaler.state();
  CHECK(state.at("scale") == 32768.0);
  CHECK(state.at("growth_tracker") == 2.0);

  GradScaler restored(small_interval(5));
  restored.load_state(state);
  CHECK(restored.current_scale() == 32768.0);
  CHECK(restored.growth_tracker() == 2);
  CHECK(restored.state() == state);
  // The restored tracker counts on: three more clean steps reach the interval of 5.
  for (int step = 0; step < 3; ++step) restored.update(false);
  CHECK(restored.current_scale() == 65536.0);
}

TEST_CASE("grad scaler rejects invalid state") {
  GradScaler scaler;
  CHECK_THROWS_WITH_AS(scaler.load_state({{"growth_tracker", 0.0}}), "loss scaler state has no 'scale'",
                       CheckpointError);
  CHECK_THROWS_WITH_AS(scaler.load_state({{"scale", 1024.0}}), "loss scaler state has no 'growth_tracker'",
                       CheckpointError);
  CHECK_THROWS_AS(scaler.load_state({{"scale", -1.0}, {"growth_tracker", 0.0}}), CheckpointError);
  CHECK_THROWS_AS(scaler.load_state({{"scale", NAN}, {"growth_tracker", 0.0}}), CheckpointError);
  CHECK_THROWS_WITH_AS(scaler.load_state({{"scale", 1024.0}, {"growth_tracker", 1.5}}),
                       "loss scaler state has growth_tracker 1.500000; it must be a non-negative integer",
                       CheckpointError);
  CHECK(scaler.current_scale() == 65536.0);
  CHECK_NOTHROW(scaler.load_state({{"scale", 1024.0}, {"growth_tracker", 7.0}, {"added_later", 1.0}}));
  CHECK(scaler.current_scale() == 1024.0);
}

TEST_CASE("grad scaler rejects invalid options") {
  GradScalerOptions options;
  options.init_scale = 0.0;
  CHECK_THROWS_AS(GradScaler{options}, std::invalid_argument);
  options = GradScalerOptions{};
  options.growth_factor = 1.0;
  CHECK_THROWS_AS(GradScaler{options}, std::invalid_argument);
  options = GradScalerOptions{};
  options.backoff_factor = 1.0;
  CHECK_THROWS_AS(GradScaler{options}, std::invalid_argument);
  options = GradScalerOptions{};
  options.growth_interval = 0;
  CHECK_THROWS_AS(GradScaler{options}, std::invalid_argument);
}

TEST_CASE("disabled grad scaler is the identity") {
  GradScalerOptions options;
  options.enabled = false;
  GradScaler scaler(options);
  const at::Tensor loss = at::scalar_tensor(0.5, at::kFloat);
  CHECK(scaler.scale(loss).is_same(loss));
  at::Tensor parameter = parameter_with_grad(at::tensor({4.0, INFINITY}));
  CHECK_FALSE(scaler.unscale_and_find_inf({parameter}));
  CHECK(parameter.grad()[0].item<double>() == 4.0);
  CHECK_NOTHROW(scaler.unscale_and_find_inf({parameter}));
  scaler.update(true);
  CHECK(scaler.current_scale() == 65536.0);
  CHECK(scaler.growth_tracker() == 0);
}

TEST_CASE("grad scaler backs off until a Linear model steps") {
  torch::manual_seed(0);
  torch::nn::Linear model(4, 1);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01));
  const at::Tensor inputs = at::randn({16, 4});
  const at::Tensor targets = at::full({16, 1}, 100.0);
  auto loss_of = [&] { return torch::nn::functional::mse_loss(model(inputs), targets); };

  // The gradients without scaling, to compare the unscaled ones against.
  loss_of().backward();
  const at::Tensor expected_grad = model->weight.grad().clone();
  optimizer.zero_grad();

  // Weight gradients of a few hundred times a scale of 1e38 overflow float32 (max about
  // 3.4e38), so the first steps see inf gradients and are skipped until the scale has
  // backed off far enough.
  GradScalerOptions options;
  options.init_scale = 1e38;
  GradScaler scaler(options);
  const at::Tensor initial_weight = model->weight.detach().clone();
  const double initial_loss = loss_of().item<double>();
  int skipped = 0;
  bool stepped = false;
  for (int attempt = 0; attempt < 64 && !stepped; ++attempt) {
    optimizer.zero_grad();
    scaler.scale(loss_of()).backward();
    const bool found_inf = scaler.unscale_and_find_inf(model->parameters());
    if (found_inf) {
      ++skipped;
      CHECK(at::equal(model->weight, initial_weight));
    } else {
      CHECK(at::allclose(model->weight.grad(), expected_grad, /*rtol=*/1e-5, /*atol=*/0.0));
      optimizer.step();
      stepped = true;
    }
    scaler.update(found_inf);
  }
  REQUIRE(stepped);
  CHECK(skipped > 0);
  CHECK(scaler.current_scale() == 1e38 * std::pow(0.5, skipped));
  CHECK_FALSE(at::equal(model->weight, initial_weight));
  CHECK(loss_of().item<double>() < initial_loss);
}

}  // namespace
}  // namespace trainer::accelerator
