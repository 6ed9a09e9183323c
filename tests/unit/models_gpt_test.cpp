// The GPT model: output shapes, size, causal masking, weight tying, learning and
// its configuration errors, on synthetic token ids.

#include <ATen/Functions.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include "core/errors.h"
#include "models_fixture.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::models {
namespace {

using testing::build_model;

constexpr int64_t kTime = 16;
constexpr int64_t kVocabulary = 11;
const data::DataSpec kText{{kTime}, Task::next_token, kVocabulary};

std::string gpt_yaml(const std::string& init_args = "") {
  return "seed_everything: 0\nmodel:\n  class_path: gpt\n  init_args:\n    n_layer: 2\n    n_head: 2\n"
         "    n_embd: 16\n    init_seed: 1\n" + init_args;
}

TEST_CASE("gpt output shape and parameter count") {
  const auto model = build_model(gpt_yaml(), kText);
  const at::Tensor logits = model->forward(at::zeros({3, kTime}, at::kLong));
  CHECK((logits.sizes() == at::IntArrayRef{3, kTime, kVocabulary}));
  CHECK(model->forward(at::zeros({3, 5}, at::kLong)).size(1) == 5);

  const int64_t c = 16;
  const int64_t block = (2 * c) + (c * 3 * c + 3 * c) + (c * c + c) + (2 * c) + (c * 4 * c + 4 * c) + (4 * c * c + c);
  // Token and position embeddings, two blocks, the final layer norm; no separate output layer.
  CHECK(count_parameters(*model) == kVocabulary * c + kTime * c + 2 * block + 2 * c);
}

TEST_CASE("gpt parameter names follow nanoGPT") {
  const auto model = build_model(gpt_yaml(), kText);
  const auto names = model->named_parameters().keys();
  for (const char* name : {"wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight",
                           "h.0.attn.c_proj.bias", "h.1.mlp.c_fc.weight", "h.1.mlp.c_proj.weight", "ln_f.bias"}) {
    CHECK_MESSAGE(std::find(names.begin(), names.end(), name) != names.end(), name);
  }
}

TEST_CASE("gpt outputs do not depend on later tokens") {
  const auto model = build_model(gpt_yaml(), kText);
  model->eval();
  torch::NoGradGuard no_grad;
  at::manual_seed(3);
  const at::Tensor tokens = at::randint(kVocabulary, {2, kTime}, at::kLong);
  at::Tensor changed = tokens.clone();
  changed.select(1, 10).copy_(tokens.select(1, 10).add(1).remainder(kVocabulary));

  const at::Tensor before = model->forward(tokens);
  const at::Tensor after = model->forward(changed);
  CHECK(at::allclose(before.slice(1, 0, 10), after.slice(1, 0, 10), 1e-5, 1e-6));
  CHECK_FALSE(at::allclose(before.slice(1, 10), after.slice(1, 10), 1e-5, 1e-6));
}

TEST_CASE("gpt output layer is the token embedding") {
  const auto model = build_model(gpt_yaml(), kText);
  // Inputs use tokens 0-4 only, so embedding rows 5-10 get gradient only through the output layer.
  const at::Tensor tokens = at::arange(2 * kTime, at::kLong).remainder(5).view({2, kTime});
  model->forward(tokens).sum().backward();
  const at::Tensor grad = model->named_parameters()["wte.weight"].grad();
  REQUIRE(grad.defined());
  CHECK(grad.slice(0, 5).abs().sum().item<double>() > 0);

  int64_t matrices = 0;
  for (const at::Tensor& parameter : model->parameters()) {
    matrices += parameter.sizes() == at::IntArrayRef{kVocabulary, 16} ? 1 : 0;
  }
  CHECK(matrices == 1);
}

TEST_CASE("gpt learns a repeating sequence") {
  const auto model = build_model(gpt_yaml("    dropout: 0.1\n"), kText);
  // Each token is followed by the next one modulo the vocabulary.
  const at::Tensor stream = at::arange(8 * (kTime + 1), at::kLong).remainder(kVocabulary);
  const at::Tensor inputs = stream.slice(0, 0, 8 * kTime).view({8, kTime});
  const data::Batch batch{inputs, inputs.add(1).remainder(kVocabulary)};
  const auto [first, last] = testing::train_on_batch(*model, batch, 40, 3e-3);
  CHECK(first > 2.0);  // about ln(11) = 2.4 at the start
  CHECK(last < first * 0.5);
}

TEST_CASE("gpt attention learns to copy") {
  // Each sequence is 8 random tokens followed by the same 8 again. Only attention to
  // earlier positions predicts the second half; a model of the current token alone
  // stays at ln(11) = 2.4 there.
  const auto model = build_model(gpt_yaml(), kText);
  model->train();
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-3));
  at::manual_seed(4);
  auto copy_batch = [] {
    const at::Tensor half = at::randint(kVocabulary, {32, kTime / 2}, at::kLong);
    const at::Tensor stream = at::cat({half, half, half.slice(1, 0, 1)}, 1);
    return data::Batch{stream.slice(1, 0, kTime), stream.slice(1, 1, kTime + 1)};
  };
  double second_half_loss = 0;
  for (int step = 0; step < 300; ++step) {
    const data::Batch batch = copy_batch();
    optimizer.zero_grad();
    const at::Tensor logits = model->forward(batch.inputs);
    const at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, kVocabulary}), batch.targets.reshape({-1}));
    loss.backward();
    optimizer.step();
    // Positions 8..14 predict tokens 9..15, copies of tokens 1..7.
    second_half_loss = at::cross_entropy_loss(logits.slice(1, kTime / 2, kTime - 1).reshape({-1, kVocabulary}),
                                              batch.targets.slice(1, kTime / 2, kTime - 1).reshape({-1}))
                           .item<double>();
  }
  CHECK(second_half_loss < 0.5);
}

TEST_CASE("gpt init_seed keeps global stream") {
  at::manual_seed(5);
  const at::Tensor expected_draw = at::rand({4});
  at::manual_seed(5);
  const auto first = build_model(gpt_yaml(), kText);
  const at::Tensor draw = at::rand({4});
  at::manual_seed(99);
  const auto second = build_model(gpt_yaml(), kText);
  CHECK(at::equal(draw, expected_draw));
  CHECK(at::equal(first->named_parameters()["h.1.attn.c_attn.weight"],
                  second->named_parameters()["h.1.attn.c_attn.weight"]));
}

TEST_CASE("gpt configuration errors") {
  CHECK_THROWS_WITH_AS(build_model(gpt_yaml("    block_size: 8\n"), kText),
                       "model.init_args.block_size (8) is shorter than the data's sequences (16 tokens); raise "
                       "block_size to at least 16, or set it to 0 to follow the data",
                       UsageError);
  CHECK_THROWS_WITH_AS(build_model("model:\n  class_path: gpt\n  init_args:\n    n_head: 3\n    n_embd: 16\n", kText),
                       "model.init_args.n_embd (16) must be a multiple of model.init_args.n_head (3)", UsageError);
  CHECK_THROWS_WITH_AS(build_model(gpt_yaml(), data::DataSpec{{1, 28, 28}, Task::classification, 10}),
                       "model 'gpt' predicts the next token of text sequences, but this dataset's task is "
                       "classification; use a text dataset (data.class_path: text)",
                       UsageError);
  const auto model = build_model(gpt_yaml(), kText);
  CHECK_THROWS_WITH_AS(model->forward(at::zeros({1, kTime + 1}, at::kLong)),
                       "model 'gpt' got sequences of 17 tokens but its block_size is 16; raise "
                       "model.init_args.block_size",
                       UsageError);
  CHECK_THROWS_WITH_AS(model->forward(at::zeros({1, kTime})),
                       "model 'gpt' reads integer token ids shaped (batch, time), got a Float tensor of shape [1, 16]",
                       UsageError);
}

}  // namespace
}  // namespace trainer::models
