// TorchScript models: a module written by torch::jit (standing in for Python's
// torch.jit.save) trains through its own training_step, mirrors its parameters,
// follows train/eval, survives a checkpoint and exports back to TorchScript.

#include <ATen/Functions.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/utils.h>

#include "core/errors.h"
#include "models/export.h"
#include "models_fixture.h"
#include "test_util.h"
#include "trainer/checkpoint.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::models {
namespace {

using testing::build_model;
using testing::TempDir;

const data::DataSpec kFeatures{{4}, Task::classification, 3};

constexpr const char* kForward = R"JIT(
def forward(self, x: Tensor) -> Tensor:
    return self.head.forward(torch.relu(self.hidden.forward(x)))
)JIT";

constexpr const char* kSteps = R"JIT(
def training_step(self, batch: Tuple[Tensor, Tensor]) -> Tensor:
    x, y = batch
    return torch.cross_entropy_loss(self.forward(x), y)

def validation_step(self, batch: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
    x, y = batch
    logits = self.forward(x)
    correct = torch.eq(torch.argmax(logits, 1), y)
    return torch.cross_entropy_loss(logits, y), {"acc": correct.float().mean(), "mode": self.mode()}

def mode(self) -> Tensor:
    if self.training:
        return torch.ones([1])
    return torch.zeros([1])
)JIT";

constexpr const char* kLinear = R"JIT(
def forward(self, x: Tensor) -> Tensor:
    return torch.matmul(x, self.weight.t()) + self.bias
)JIT";

torch::jit::Module linear(const std::string& name, int64_t in, int64_t out) {
  torch::jit::Module module("__torch__." + name);
  module.register_attribute("training", c10::BoolType::get(), true);
  module.register_parameter("weight", (at::randn({out, in}) * 0.3).requires_grad_(), false);
  module.register_parameter("bias", at::zeros({out}).requires_grad_(), false);
  module.define(kLinear);
  return module;
}

/// Writes a two-layer classifier for kFeatures with a batch-norm-like buffer;
/// `with_steps` adds training_step and validation_step.
std::string write_module(const TempDir& dir, bool with_steps) {
  at::manual_seed(0);
  torch::jit::Module module("__torch__.Net");
  module.register_attribute("training", c10::BoolType::get(), true);
  module.register_module("hidden", linear("Hidden", 4, 8));
  module.register_module("head", linear("Head", 8, 3));
  module.register_buffer("seen", at::zeros({1}));
  module.define(kForward);
  if (with_steps) module.define(kSteps);
  const std::string path = (dir.path() / (with_steps ? "steps.pt" : "forward.pt")).string();
  module.save(path);
  return path;
}

std::string torchscript_yaml(const std::string& path, const std::string& task = "auto") {
  return "model:\n  class_path: torchscript\n  init_args:\n    path: " + path + "\n    task: " + task + "\n";
}

data::Batch fixed_batch() {
  at::manual_seed(1);
  const at::Tensor inputs = at::randn({32, 4});
  // A learnable rule: the class is the index of the largest of the first three features.
  return {inputs, inputs.slice(1, 0, 3).argmax(1)};
}

TEST_CASE("torchscript parameters keep their dotted names") {
  TempDir dir;
  const auto model = build_model(torchscript_yaml(write_module(dir, true)), kFeatures);
  const auto names = model->named_parameters().keys();
  CHECK(names == std::vector<std::string>{"hidden.weight", "hidden.bias", "head.weight", "head.bias"});
  CHECK(model->named_buffers().keys() == std::vector<std::string>{"seen"});
  CHECK(count_parameters(*model) == (8 * 4 + 8) + (3 * 8 + 3));
  for (const at::Tensor& parameter : model->parameters()) CHECK(parameter.requires_grad());
}

TEST_CASE("torchscript training_step trains the module") {
  TempDir dir;
  const auto model = build_model(torchscript_yaml(write_module(dir, true)), kFeatures);
  const data::Batch batch = fixed_batch();
  const at::Tensor before = model->forward(batch.inputs).detach().clone();
  const auto [first, last] = testing::train_on_batch(*model, batch, 60, 3e-2);
  CHECK(last < first * 0.5);
  // The optimizer updated the module's own tensors: its forward changed.
  CHECK_FALSE(at::allclose(model->forward(batch.inputs), before));
}

TEST_CASE("torchscript eval mode calls validation_step with its metrics") {
  TempDir dir;
  const auto model = build_model(torchscript_yaml(write_module(dir, true)), kFeatures);
  const data::Batch batch = fixed_batch();

  model->train();
  CHECK(model->step(batch, true).metric_sums.size() == 1);  // training_step returns the loss only

  model->eval();
  torch::NoGradGuard no_grad;
  const StepOutput output = model->step(batch, true);
  REQUIRE(output.metric_sums.size() == 3);
  CHECK(output.count == 32);
  CHECK(output.metric_sums[0].first == "loss");
  CHECK(output.metric_sums[0].second.item<double>() == doctest::Approx(output.loss.item<double>() * 32));
  CHECK(output.metric_sums[1].first == "acc");
  CHECK(output.metric_sums[2].first == "mode");
  // eval() reached the TorchScript module: its `training` flag is false.
  CHECK(output.metric_sums[2].second.item<double>() == 0.0);
}

TEST_CASE("torchscript without training_step uses forward and the task loss") {
  TempDir dir;
  const auto model = build_model(torchscript_yaml(write_module(dir, false), "classification"), kFeatures);
  CHECK(model->task() == Task::classification);
  const data::Batch batch = fixed_batch();
  model->eval();
  const StepOutput output = model->step(batch, true);
  CHECK(output.loss.item<double>() ==
        doctest::Approx(at::cross_entropy_loss(model->forward(batch.inputs), batch.targets).item<double>()));
  CHECK(output.metric_sums.size() == 2);  // loss and acc, as for any classifier
  const auto [first, last] = testing::train_on_batch(*model, batch, 60, 3e-2);
  CHECK(last < first * 0.5);
}

TEST_CASE("torchscript model round-trips through a checkpoint and exports") {
  TempDir dir;
  const std::string path = write_module(dir, true);
  const auto trained = build_model(torchscript_yaml(path), kFeatures);
  const data::Batch batch = fixed_batch();
  testing::train_on_batch(*trained, batch, 20, 3e-2);
  trained->eval();
  const at::Tensor expected = trained->forward(batch.inputs).detach();
  const std::string checkpoint = (dir.path() / "last.ckpt").string();
  CheckpointInfo info;
  info.epoch = 1;
  info.global_step = 20;
  info.model_class = "torchscript";
  save_checkpoint(checkpoint, *trained, nullptr, info);

  const auto restored = build_model(torchscript_yaml(path), kFeatures);
  restored->eval();
  CHECK_FALSE(at::allclose(restored->forward(batch.inputs), expected));
  load_checkpoint(checkpoint, *restored, nullptr);
  CHECK(at::equal(restored->forward(batch.inputs), expected));

  const std::string exported = (dir.path() / "model.pt").string();
  restored->save_torchscript(exported);
  torch::jit::Module loaded = torch::jit::load(exported);
  CHECK_FALSE(loaded.is_training());
  CHECK(at::equal(loaded.forward({batch.inputs}).toTensor(), expected));
  CHECK(loaded.find_method("training_step").has_value());

  const std::string bytes = state_dict_bytes(*restored);
  const c10::IValue state = torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  REQUIRE(state.isGenericDict());
  CHECK(state.toGenericDict().size() == 5);
  CHECK(at::equal(state.toGenericDict().at("head.weight").toTensor(), restored->named_parameters()["head.weight"]));
}

TEST_CASE("torchscript errors name the file") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(build_model("model:\n  class_path: torchscript\n", kFeatures),
                       "model 'torchscript' needs model.init_args.path: a file written by torch.jit.save in Python",
                       UsageError);
  const std::string missing = (dir.path() / "missing.pt").string();
  CHECK_THROWS_WITH_AS(build_model(torchscript_yaml(missing), kFeatures),
                       ("model.init_args.path: TorchScript file '" + missing + "' not found").c_str(), UsageError);
  const std::string text = dir.write("text.pt", "not a model");
  CHECK_THROWS_AS(build_model(torchscript_yaml(text), kFeatures), UsageError);

  const std::string path = write_module(dir, true);
  const auto model = build_model(torchscript_yaml(path), kFeatures);
  const data::Batch wrong{at::zeros({2, 5}), at::zeros({2}, at::kLong)};
  try {
    model->step(wrong, false);
    FAIL("a batch of the wrong width must fail");
  } catch (const UsageError& error) {
    const std::string message = error.what();
    CHECK(message.rfind("TorchScript model '" + path + "': training_step failed: ", 0) == 0);
  }
}

TEST_CASE("built-in models cannot be saved as TorchScript") {
  TempDir dir;
  const auto model = build_model("model:\n  class_path: mlp\n", kFeatures);
  CHECK_THROWS_WITH_AS(model->save_torchscript("out.pt"),
                       "cannot write 'out.pt': this is a C++ module, which LibTorch cannot convert to TorchScript; "
                       "export --format state_dict instead, or train a TorchScript model (model.class_path: "
                       "torchscript)",
                       UsageError);
}

TEST_CASE("state dict of a built-in model reads back with its names") {
  const auto model = build_model("model:\n  class_path: mlp\n  init_args:\n    batch_norm: true\n", kFeatures);
  const std::string bytes = state_dict_bytes(*model);
  const c10::IValue state = torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  REQUIRE(state.isGenericDict());
  std::vector<std::string> names;
  for (const auto& entry : state.toGenericDict()) names.push_back(entry.key().toStringRef());
  std::vector<std::string> expected = model->named_parameters().keys();
  for (const std::string& name : model->named_buffers().keys()) expected.push_back(name);
  CHECK(names == expected);
  CHECK(at::equal(state.toGenericDict().at("layers.0.weight").toTensor(), model->named_parameters()["layers.0.weight"]));
}

}  // namespace
}  // namespace trainer::models
