// A hand-written LibTorch training loop on Fashion-MNIST: the baseline that `trainer fit`
// is measured against. It builds the same network as lib/models/{mlp,cnn}.cpp with the
// default init_args, draws the same validation split and epoch orders as the
// DataConnector, and trains with Adam (lr 1e-3) at batch 128. It has no config, no
// logging and no checkpoints. Only the IDX reader and the seed hash of the epoch
// order (mix_seed) come from the trainer's library.
//
// Usage: plain_loop [--model=mlp|cnn] [--steps=N] [--threads=N] [--seed=N]
//                   [--root=DIR] [--transform=once|per-batch]
// Prints "step=1 loss=..." right after the first step, then one summary line:
// "steps=N samples=N loop_seconds=S samples_per_second=R last_loss=L".

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "data/idx.h"
#include "data/sampler.h"

namespace {

struct Options {
  std::string model = "cnn";
  int64_t steps = 300;
  int threads = 2;
  uint64_t seed = 42;
  std::string root = "/usr/share/datasets/fashion-mnist";
  /// "once" normalises the whole training set up front; "per-batch" stores bytes and
  /// normalises each batch after indexing, as the trainer's Fashion-MNIST loader does.
  std::string transform = "once";
};

constexpr int64_t kBatchSize = 128;
constexpr int64_t kValSize = 5000;
constexpr double kMean = 0.2860;  // Fashion-MNIST training pixels scaled to [0, 1]
constexpr double kStd = 0.3530;

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    if (arg.rfind("--", 0) != 0 || equals == std::string::npos) {
      throw std::invalid_argument("invalid argument '" + arg + "'; write options as --key=value");
    }
    const std::string key = arg.substr(2, equals - 2);
    const std::string value = arg.substr(equals + 1);
    if (key == "model") options.model = value;
    else if (key == "steps") options.steps = std::stoll(value);
    else if (key == "threads") options.threads = std::stoi(value);
    else if (key == "seed") options.seed = std::stoull(value);
    else if (key == "root") options.root = value;
    else if (key == "transform") options.transform = value;
    else throw std::invalid_argument("unknown option '--" + key + "'; see the usage at the top of plain_loop.cpp");
  }
  if (options.model != "mlp" && options.model != "cnn") {
    throw std::invalid_argument("invalid --model '" + options.model + "'; choose mlp or cnn");
  }
  if (options.transform != "once" && options.transform != "per-batch") {
    throw std::invalid_argument("invalid --transform '" + options.transform + "'; choose once or per-batch");
  }
  return options;
}

at::Tensor normalize(const at::Tensor& pixels) {
  return pixels.to(at::kFloat).div_(255.0).sub_(kMean).div_(kStd);
}

/// Returns the layers in the order lib/models builds them, so that the same seed
/// draws the same initial weights.
torch::nn::Sequential build_model(const std::string& name) {
  torch::nn::Sequential model;
  if (name == "mlp") {
    model->push_back(torch::nn::Flatten());
    model->push_back(torch::nn::Linear(784, 256));
    model->push_back(torch::nn::ReLU());
    model->push_back(torch::nn::Linear(256, 10));
    return model;
  }
  using torch::nn::Conv2dOptions;
  model->push_back(torch::nn::Conv2d(Conv2dOptions(1, 16, 3).padding(1)));
  model->push_back(torch::nn::ReLU());
  model->push_back(torch::nn::MaxPool2d(2));
  model->push_back(torch::nn::Conv2d(Conv2dOptions(16, 32, 3).padding(1)));
  model->push_back(torch::nn::ReLU());
  model->push_back(torch::nn::MaxPool2d(2));
  model->push_back(torch::nn::Flatten());
  model->push_back(torch::nn::Linear(32 * 7 * 7, 64));
  model->push_back(torch::nn::ReLU());
  model->push_back(torch::nn::Linear(64, 10));
  return model;
}

at::Tensor permutation(int64_t size, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randperm(size, generator, at::TensorOptions().dtype(at::kLong));
}

int run(const Options& options) {
  at::set_num_threads(options.threads);
  torch::manual_seed(options.seed);

  const trainer::data::IdxArray images = trainer::data::read_idx(options.root + "/train-images-idx3-ubyte.gz");
  const trainer::data::IdxArray labels = trainer::data::read_idx(options.root + "/train-labels-idx1-ubyte.gz");
  const int64_t count = images.dims[0];
  at::Tensor inputs = at::from_blob(const_cast<uint8_t*>(images.values.data()),
                                    {count, 1, images.dims[1], images.dims[2]}, at::kByte);
  at::Tensor targets = at::from_blob(const_cast<uint8_t*>(labels.values.data()), {count}, at::kByte).to(at::kLong);

  // The DataConnector's split: a permutation seeded with the seed alone, the first
  // kValSize samples held out for validation.
  const at::Tensor train_indices = permutation(count, options.seed).slice(0, kValSize);
  inputs = inputs.index_select(0, train_indices);
  targets = targets.index_select(0, train_indices);
  const bool per_batch = options.transform == "per-batch";
  if (!per_batch) inputs = normalize(inputs);
  const int64_t train_size = inputs.size(0);

  torch::nn::Sequential model = build_model(options.model);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  model->train();

  at::Tensor loss;
  int64_t step = 0;
  int64_t samples = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = 0; step < options.steps; ++epoch) {
    // The Loader's epoch order: a generator seeded with mix_seed({seed, epoch}).
    const at::Tensor order = permutation(train_size, trainer::data::mix_seed({options.seed, static_cast<uint64_t>(epoch)}));
    for (int64_t begin = 0; begin < train_size && step < options.steps; begin += kBatchSize) {
      const at::Tensor indices = order.slice(0, begin, std::min(begin + kBatchSize, train_size));
      at::Tensor batch_inputs = inputs.index_select(0, indices);
      if (per_batch) batch_inputs = normalize(batch_inputs);
      const at::Tensor batch_targets = targets.index_select(0, indices);

      optimizer.zero_grad();
      loss = at::cross_entropy_loss(model->forward(batch_inputs), batch_targets);
      loss.backward();
      optimizer.step();

      ++step;
      samples += batch_targets.size(0);
      if (step == 1) {
        std::printf("step=1 loss=%.9g\n", loss.item<double>());
        std::fflush(stdout);
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const double last_loss = loss.defined() ? loss.item<double>() : 0.0;
  std::printf("steps=%lld samples=%lld loop_seconds=%.6f samples_per_second=%.1f last_loss=%.9g\n",
              static_cast<long long>(step), static_cast<long long>(samples), seconds,
              seconds > 0 ? static_cast<double>(samples) / seconds : 0.0, last_loss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "plain_loop: %s\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "plain_loop: %s\n", error.what());
    return 1;
  }
}
