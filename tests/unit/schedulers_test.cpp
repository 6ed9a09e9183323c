// LR schedulers: rates at chosen steps against hand-computed values and against
// torch.optim.lr_scheduler (values printed by PyTorch 1.13), also after a restore.

#include <ATen/Functions.h>
#include <torch/optim/sgd.h>

#include <cmath>

#include "optim/schedulers.h"
#include "settings_fixture.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::optim {
namespace {

/// An SGD optimizer over one parameter with base rate `lr`.
struct Fixture {
  explicit Fixture(double lr) : parameter(at::zeros({1}).requires_grad_()), sgd({parameter}, torch::optim::SGDOptions(lr)) {}
  at::Tensor parameter;
  torch::optim::SGD sgd;
};

std::unique_ptr<LrScheduler> make(const std::string& yaml, torch::optim::Optimizer& optimizer) {
  const auto settings = testing::settings_from_yaml("model: mlp\nlr_scheduler:\n" + yaml);
  return scheduler_registry().find(settings.lr_scheduler.class_path)->build(*settings.lr_scheduler.args, optimizer);
}

/// Rates seen during each of the first `steps` intervals.
std::vector<double> rates(LrScheduler& scheduler, int steps) {
  std::vector<double> seen;
  for (int i = 0; i < steps; ++i) {
    seen.push_back(scheduler.learning_rates()[0]);
    scheduler.interval_end(std::nullopt);
  }
  return seen;
}

void check_rates(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("interval " << i);
    CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

TEST_CASE("step and multistep decay at their boundaries") {
  Fixture f(0.1);
  auto step = make("  class_path: step\n  init_args: {step_size: 2, gamma: 0.5}\n", f.sgd);
  check_rates(rates(*step, 5), {0.1, 0.1, 0.05, 0.05, 0.025});
  Fixture g(1.0);
  auto multistep = make("  class_path: multistep\n  init_args: {milestones: [1, 3], gamma: 0.1}\n", g.sgd);
  check_rates(rates(*multistep, 4), {1.0, 0.1, 0.1, 0.01});
}

TEST_CASE("exponential and frequency") {
  Fixture f(1.0);
  auto exponential = make("  class_path: exponential\n  init_args: {gamma: 0.5, frequency: 2}\n", f.sgd);
  check_rates(rates(*exponential, 6), {1.0, 1.0, 0.5, 0.5, 0.25, 0.25});
}

TEST_CASE("cosine matches torch CosineAnnealingLR") {
  Fixture f(0.1);
  auto cosine = make("  class_path: cosine\n  init_args: {t_max: 10, eta_min: 0.01}\n", f.sgd);
  check_rates(rates(*cosine, 6),
              {0.1, 0.09779754323328192, 0.09140576474687263, 0.08145033635316129, 0.06890576474687264, 0.055});
}

TEST_CASE("warmup then cosine or linear decay") {
  Fixture f(1.0);
  auto cosine = make("  class_path: warmup_cosine\n  init_args: {warmup_steps: 2, total_steps: 6}\n", f.sgd);
  // Warmup 0, 0.5; then cosine over 4 steps: 1, cos schedule (1+cos(pi*k/4))/2, 0.
  check_rates(rates(*cosine, 7), {0.0, 0.5, 1.0, (1 + std::cos(M_PI / 4)) / 2, 0.5, (1 + std::cos(3 * M_PI / 4)) / 2, 0.0});
  Fixture g(1.0);
  auto linear = make("  class_path: warmup_linear\n  init_args: {warmup_steps: 1, total_steps: 5, start_factor: 0.5}\n",
                     g.sgd);
  check_rates(rates(*linear, 6), {0.5, 1.0, 0.75, 0.5, 0.25, 0.0});
}

TEST_CASE("one_cycle matches torch OneCycleLR") {
  Fixture f(0.1);
  auto cycle = make("  class_path: one_cycle\n  init_args: {max_lr: 0.1, total_steps: 10}\n", f.sgd);
  check_rates(rates(*cycle, 10), {0.0040000000000000036, 0.052000000000000005, 0.1, 0.09504846320134738,
                                  0.0811745653949763, 0.06112620219362893, 0.03887419780637107, 0.0188258346050237,
                                  0.004951936798652629, 4e-07});
}

TEST_CASE("reduce_on_plateau matches torch ReduceLROnPlateau") {
  Fixture f(1.0);
  auto plateau = make("  class_path: reduce_on_plateau\n  init_args: {factor: 0.5, patience: 1}\n", f.sgd);
  CHECK(plateau->monitor() == "val/loss");
  std::vector<double> seen;
  for (double metric : {1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7}) {
    plateau->interval_end(metric);
    seen.push_back(plateau->learning_rates()[0]);
  }
  check_rates(seen, {1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25});
}

TEST_CASE("scheduler state restores the same rates") {
  for (const char* yaml : {"  class_path: warmup_cosine\n  init_args: {warmup_steps: 2, total_steps: 9}\n",
                           "  class_path: reduce_on_plateau\n  init_args: {factor: 0.5, patience: 0}\n"}) {
    INFO(yaml);
    Fixture a(1.0);
    Fixture b(1.0);
    auto first = make(yaml, a.sgd);
    for (double metric : {3.0, 2.0, 2.5, 2.6}) first->interval_end(metric);
    auto second = make(yaml, b.sgd);
    second->load_state(first->state());
    CHECK(second->learning_rates()[0] == first->learning_rates()[0]);
    for (double metric : {2.7, 1.0, 1.5}) {
      first->interval_end(metric);
      second->interval_end(metric);
      CHECK(second->learning_rates()[0] == first->learning_rates()[0]);
    }
  }
}

TEST_CASE("warmup longer than the schedule is rejected") {
  Fixture f(1.0);
  CHECK_THROWS_WITH(make("  class_path: warmup_cosine\n  init_args: {warmup_steps: 5, total_steps: 5}\n", f.sgd),
                    "lr_scheduler.init_args.warmup_steps (5) must be below total_steps (5)");
}

}  // namespace
}  // namespace trainer::optim
