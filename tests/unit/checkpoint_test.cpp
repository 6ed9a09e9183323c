// Checkpoint files: round trip of model and optimizer state, and rejected files.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include "core/errors.h"
#include "test_util.h"
#include "trainer/checkpoint.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer {
namespace {

using testing::TempDir;

/// Takes one Adam step on a fixed batch so the optimizer has state to save.
void step(torch::nn::Linear& model, torch::optim::Adam& optimizer) {
  optimizer.zero_grad();
  model->forward(at::ones({2, 3})).sum().backward();
  optimizer.step();
}

TEST_CASE("checkpoint round trip restores model, optimizer and info") {
  TempDir dir;
  const std::string path = (dir.path() / "a.ckpt").string();
  torch::nn::Linear model(3, 2);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(0.1));
  step(model, optimizer);
  CheckpointInfo saved;
  saved.epoch = 3;
  saved.batch_in_epoch = 7;
  saved.global_step = 42;
  saved.model_class = "mlp";
  saved.config_yaml = "seed_everything: 1\n";
  saved.scheduler = {{"count", 5.0}, {"best", 0.25}};
  saved.grad_scaler = {{"scale", 32768.0}, {"growth_tracker", 17.0}};
  saved.callbacks = {{{"wait", "2"}}, {}};
  saved.data = {{"mean", at::arange(3.0)}};
  saved.rng_cpu = at::detail::getDefaultCPUGenerator().get_state();
  save_checkpoint(path, *model, &optimizer, saved);

  torch::nn::Linear restored(3, 2);
  torch::optim::Adam restored_optimizer(restored->parameters(), torch::optim::AdamOptions(0.1));
  const CheckpointInfo info = load_checkpoint(path, *restored, &restored_optimizer);
  CHECK(info.epoch == 3);
  CHECK(info.batch_in_epoch == 7);
  CHECK(info.global_step == 42);
  CHECK(info.scheduler == saved.scheduler);
  CHECK(info.grad_scaler == saved.grad_scaler);
  CHECK(info.callbacks == saved.callbacks);
  REQUIRE(info.data.count("mean") == 1);
  CHECK(at::equal(info.data.at("mean"), at::arange(3.0)));
  CHECK(at::equal(info.rng_cpu, saved.rng_cpu));
  CHECK(info.model_class == "mlp");
  CHECK(info.config_yaml == "seed_everything: 1\n");
  CHECK(at::equal(model->weight, restored->weight));

  // The same next step from both proves the optimizer moments were restored.
  step(model, optimizer);
  step(restored, restored_optimizer);
  CHECK(at::allclose(model->weight, restored->weight));
}

TEST_CASE("checkpoint rejects a truncated file") {
  TempDir dir;
  const std::string path = (dir.path() / "a.ckpt").string();
  torch::nn::Linear model(3, 2);
  save_checkpoint(path, *model, nullptr, {});
  const std::string bytes = testing::read_text(path);
  const std::string cut = dir.write("cut.ckpt", bytes.substr(0, bytes.size() / 2));
  try {
    load_checkpoint(cut, *model, nullptr);
    FAIL("expected a CheckpointError");
  } catch (const CheckpointError& error) {
    CHECK(std::string(error.what()).rfind("checkpoint '" + cut + "' is not a readable checkpoint", 0) == 0);
  }
}

TEST_CASE("checkpoint loads float64 weights into float32") {
  TempDir dir;
  const std::string path = (dir.path() / "a.ckpt").string();
  torch::nn::Linear saved(3, 2);
  saved->to(at::kDouble);
  save_checkpoint(path, *saved, nullptr, {});
  CHECK((read_checkpoint_info(path).parameter_dtype == at::kDouble));

  torch::nn::Linear restored(3, 2);
  load_checkpoint(path, *restored, nullptr);
  // The model takes the file's dtype; the caller converts it to the configured one.
  CHECK((restored->weight.scalar_type() == at::kDouble));
  CHECK(at::equal(restored->weight, saved->weight));

  torch::nn::Linear resumed(3, 2);
  torch::optim::Adam optimizer(resumed->parameters(), torch::optim::AdamOptions(0.1));
  CHECK_THROWS_AS(load_checkpoint(path, *resumed, &optimizer), CheckpointError);
}

TEST_CASE("checkpoint rejects another model shape") {
  TempDir dir;
  const std::string path = (dir.path() / "a.ckpt").string();
  torch::nn::Linear model(3, 2);
  save_checkpoint(path, *model, nullptr, {});
  torch::nn::Linear wider(3, 5);
  try {
    load_checkpoint(path, *wider, nullptr);
    FAIL("expected a CheckpointError");
  } catch (const CheckpointError& error) {
    CHECK(std::string(error.what()).find("does not match the configured model") != std::string::npos);
  }
}

TEST_CASE("checkpoint missing file and last without runs") {
  torch::nn::Linear model(3, 2);
  CHECK_THROWS_WITH_AS(load_checkpoint("/nonexistent.ckpt", *model, nullptr),
                       "checkpoint '/nonexistent.ckpt' not found", CheckpointError);
  TempDir dir;
  CHECK_THROWS_WITH_AS(resolve_checkpoint_path("last", dir.path().string(), "exp"),
                       ("--ckpt_path last: no checkpoints/last.ckpt under '" + (dir.path() / "exp").string() +
                        "'; run fit first or pass a checkpoint path")
                           .c_str(),
                       CheckpointError);
}

TEST_CASE("checkpoint last picks the newest run") {
  TempDir dir;
  torch::nn::Linear model(3, 2);
  for (const char* version : {"version_0", "version_1"}) {
    std::filesystem::create_directories(dir.path() / "exp" / version / "checkpoints");
    save_checkpoint((dir.path() / "exp" / version / "checkpoints" / "last.ckpt").string(), *model, nullptr, {});
  }
  const auto older = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
  std::filesystem::last_write_time(dir.path() / "exp" / "version_1" / "checkpoints" / "last.ckpt", older);
  CHECK(resolve_checkpoint_path("last", dir.path().string(), "exp") ==
        (dir.path() / "exp" / "version_0" / "checkpoints" / "last.ckpt").string());
}

}  // namespace
}  // namespace trainer
