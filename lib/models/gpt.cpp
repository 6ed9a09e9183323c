// A decoder-only transformer for next-token prediction, laid out like GPT-2 (Radford
// et al., 2019) and nanoGPT: token and position embeddings, pre-norm blocks of causal
// self-attention and a GELU MLP, a final layer norm, and an output layer that reuses
// the token embedding matrix (weight tying). Parameter names follow nanoGPT without
// its `transformer.` prefix (wte.weight, h.0.attn.c_attn.weight, ...).

#include <ATen/Functions.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/utils.h>

#include <cmath>
#include <limits>

#include "core/errors.h"
#include "models/plugin.h"

namespace trainer::models {
namespace {

struct GptArgs : ModelArgs {
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 128;
  int64_t block_size = 0;
  double dropout = 0.0;

  void visit(config::FieldVisitor& v) override {
    v.field("n_layer", n_layer, {"Transformer blocks.", {}, 1});
    v.field("n_head", n_head, {"Attention heads per block; must divide n_embd.", {}, 1});
    v.field("n_embd", n_embd, {"Embedding size: the width of every block.", {}, 1});
    v.field("block_size", block_size,
            {"Context length: the longest sequence the model reads, in tokens; 0 means the data's sequence_length.",
             {}, 0});
    v.field("dropout", dropout, {"Dropout probability on embeddings, attention weights and residual branches.", {},
                                 0.0, 1.0});
    visit_init(v);
  }
};

/// Multi-head self-attention in which each position attends to itself and earlier positions only.
class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(const GptArgs& args)
      : n_head_(args.n_head),
        c_attn_(register_module("c_attn", torch::nn::Linear(args.n_embd, 3 * args.n_embd))),
        c_proj_(register_module("c_proj", torch::nn::Linear(args.n_embd, args.n_embd))),
        attn_dropout_(register_module("attn_dropout", torch::nn::Dropout(args.dropout))),
        resid_dropout_(register_module("resid_dropout", torch::nn::Dropout(args.dropout))) {}

  at::Tensor forward(const at::Tensor& x) {
    const int64_t batch = x.size(0);
    const int64_t time = x.size(1);
    const int64_t channels = x.size(2);
    const int64_t head_size = channels / n_head_;

    // (batch, time, 3 * channels) -> three (batch, heads, time, head_size) tensors
    const std::vector<at::Tensor> qkv = c_attn_->forward(x).split(channels, 2);
    auto heads = [&](const at::Tensor& t) { return t.view({batch, time, n_head_, head_size}).transpose(1, 2); };
    const at::Tensor q = heads(qkv[0]);
    const at::Tensor k = heads(qkv[1]);
    const at::Tensor v = heads(qkv[2]);

    at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(head_size)));
    // True above the diagonal: the future positions that position t must not see.
    const at::Tensor future = at::ones({time, time}, x.options().dtype(at::kBool)).triu(1);
    scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
    const at::Tensor weights = attn_dropout_->forward(at::softmax(scores, -1));

    const at::Tensor y = at::matmul(weights, v).transpose(1, 2).contiguous().view({batch, time, channels});
    return resid_dropout_->forward(c_proj_->forward(y));
  }

  torch::nn::Linear& c_proj() { return c_proj_; }

 private:
  int64_t n_head_;
  torch::nn::Linear c_attn_;
  torch::nn::Linear c_proj_;
  torch::nn::Dropout attn_dropout_;
  torch::nn::Dropout resid_dropout_;
};
TORCH_MODULE(CausalSelfAttention);

/// A pre-norm transformer block: x + attention(norm(x)), then x + mlp(norm(x)).
class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const GptArgs& args)
      : ln_1_(register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({args.n_embd})))),
        attn_(register_module("attn", CausalSelfAttention(args))),
        ln_2_(register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({args.n_embd})))),
        c_fc_(torch::nn::Linear(args.n_embd, 4 * args.n_embd)),
        c_proj_(torch::nn::Linear(4 * args.n_embd, args.n_embd)),
        dropout_(torch::nn::Dropout(args.dropout)) {
    // nanoGPT's MLP is a submodule named `mlp`; an empty Module holds its layers under that name.
    auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
    mlp->register_module("c_fc", c_fc_);
    mlp->register_module("c_proj", c_proj_);
    mlp->register_module("dropout", dropout_);
  }

  at::Tensor forward(at::Tensor x) {
    x = x + attn_->forward(ln_1_->forward(x));
    const at::Tensor hidden = at::gelu(c_fc_->forward(ln_2_->forward(x)));
    return x + dropout_->forward(c_proj_->forward(hidden));
  }

  /// The two layers whose outputs are added to the residual stream.
  std::vector<torch::nn::Linear> residual_projections() { return {attn_->c_proj(), c_proj_}; }

 private:
  torch::nn::LayerNorm ln_1_;
  CausalSelfAttention attn_;
  torch::nn::LayerNorm ln_2_;
  torch::nn::Linear c_fc_;
  torch::nn::Linear c_proj_;
  torch::nn::Dropout dropout_;
};
TORCH_MODULE(Block);

class Gpt : public Model {
 public:
  Gpt(const GptArgs& args, const data::DataSpec& spec) : Model(spec.task) {
    check_args(args, spec);
    block_size_ = args.block_size > 0 ? args.block_size : spec.input_shape[0];

    wte_ = register_module("wte", torch::nn::Embedding(spec.num_outputs, args.n_embd));
    wpe_ = register_module("wpe", torch::nn::Embedding(block_size_, args.n_embd));
    drop_ = register_module("drop", torch::nn::Dropout(args.dropout));
    for (int64_t i = 0; i < args.n_layer; ++i) blocks_->push_back(Block(args));
    register_module("h", blocks_);
    ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({args.n_embd})));
    initialize(args.n_layer);
  }

  /// Maps token ids (batch, time) to next-token logits (batch, time, vocabulary).
  at::Tensor forward(const at::Tensor& tokens) override {
    if (tokens.dim() != 2 || at::isFloatingType(tokens.scalar_type())) {
      throw UsageError("model 'gpt' reads integer token ids shaped (batch, time), got a " +
                       std::string(c10::toString(tokens.scalar_type())) + " tensor of shape " +
                       c10::str(tokens.sizes()));
    }
    const int64_t time = tokens.size(1);
    if (time > block_size_) {
      throw UsageError("model 'gpt' got sequences of " + std::to_string(time) + " tokens but its block_size is " +
                       std::to_string(block_size_) + "; raise model.init_args.block_size");
    }
    const at::Tensor positions = at::arange(time, tokens.options().dtype(at::kLong));
    at::Tensor x = drop_->forward(wte_->forward(tokens) + wpe_->forward(positions));
    for (const auto& block : *blocks_) x = block->as<Block>()->forward(x);
    x = ln_f_->forward(x);
    // Weight tying: the output layer is the token embedding matrix, one parameter used twice.
    return at::linear(x, wte_->weight);
  }

 private:
  static void check_args(const GptArgs& args, const data::DataSpec& spec) {
    if (spec.task != Task::next_token || spec.input_shape.size() != 1) {
      throw UsageError(std::string("model 'gpt' predicts the next token of text sequences, but this dataset's task "
                                   "is ") + task_name(spec.task) + "; use a text dataset (data.class_path: text)");
    }
    if (args.n_embd % args.n_head != 0) {
      throw UsageError("model.init_args.n_embd (" + std::to_string(args.n_embd) +
                       ") must be a multiple of model.init_args.n_head (" + std::to_string(args.n_head) + ")");
    }
    const int64_t sequence_length = spec.input_shape[0];
    if (args.block_size > 0 && args.block_size < sequence_length) {
      throw UsageError("model.init_args.block_size (" + std::to_string(args.block_size) +
                       ") is shorter than the data's sequences (" + std::to_string(sequence_length) +
                       " tokens); raise block_size to at least " + std::to_string(sequence_length) +
                       ", or set it to 0 to follow the data");
    }
  }

  /// GPT-2's initialisation: weights N(0, 0.02), biases 0, and the residual
  /// projections N(0, 0.02 / sqrt(2 * n_layer)) so the residual stream's variance
  /// does not grow with depth. Layer norms keep their defaults (1 and 0).
  void initialize(int64_t n_layer) {
    torch::NoGradGuard no_grad;
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* linear = module->as<torch::nn::Linear>()) {
        torch::nn::init::normal_(linear->weight, 0.0, 0.02);
        if (linear->bias.defined()) torch::nn::init::zeros_(linear->bias);
      } else if (auto* embedding = module->as<torch::nn::Embedding>()) {
        torch::nn::init::normal_(embedding->weight, 0.0, 0.02);
      }
    }
    const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(n_layer));
    for (const auto& block : *blocks_) {
      for (torch::nn::Linear& projection : block->as<Block>()->residual_projections()) {
        torch::nn::init::normal_(projection->weight, 0.0, residual_std);
      }
    }
  }

  int64_t block_size_ = 0;
  torch::nn::Embedding wte_{nullptr};
  torch::nn::Embedding wpe_{nullptr};
  torch::nn::Dropout drop_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
};

}  // namespace

void register_gpt(ModelRegistry& registry) {
  add_model<Gpt, GptArgs>(registry, "gpt",
                          "Decoder-only transformer for next-token prediction (causal mask, tied embeddings)");
}

}  // namespace trainer::models
