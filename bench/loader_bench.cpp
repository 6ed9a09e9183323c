// Throughput of the DataConnector's training loader alone, against plain tensor indexing
// of the same samples. Every pass reads one epoch of batches and does nothing else, so
// the numbers are the most a loader can feed a model.
//
// Usage: loader_bench [--config=FILE] [--epochs=N] [--repeats=N] [--threads=N] [--key=value ...]
// Other --key=value arguments are config overrides, as `trainer fit` takes them
// (for example --data.init_args.num_workers=2). An unknown key exits with code 2.
// Prints one line per variant:
// "variant=NAME samples_per_second=MEDIAN min=MIN max=MAX repeats=N epoch_samples=N".
//   loader        the DataConnector's train loader: set_epoch, then batch(i) for every i
//   index_float   randperm + index_select over inputs normalised once up front
//   index_bytes   randperm + index_select over the stored bytes, then the same
//                 normalisation per batch as the Fashion-MNIST transform

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "config/load.h"
#include "config/problems.h"
#include "core/errors.h"
#include "data/data_connector.h"
#include "data/sampler.h"
#include "trainer/catalog.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string config = "bench/configs/fashion_mnist_cnn.yaml";
  int64_t epochs = 2;
  int64_t repeats = 5;
  int threads = 2;
  std::vector<trainer::config::Override> overrides;
};

Options parse_options(int argc, char** argv) {
  Options options;
  std::vector<std::string> extras;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--config=", 0) == 0) options.config = arg.substr(9);
    else if (arg.rfind("--epochs=", 0) == 0) options.epochs = std::stoll(arg.substr(9));
    else if (arg.rfind("--repeats=", 0) == 0) options.repeats = std::stoll(arg.substr(10));
    else if (arg.rfind("--threads=", 0) == 0) options.threads = std::stoi(arg.substr(10));
    else extras.push_back(arg);
  }
  options.overrides = trainer::config::parse_override_args(extras);
  return options;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

/// Runs `epoch` (which returns the samples it read) `epochs` times; returns samples per second.
double time_epochs(int64_t epochs, const std::function<int64_t(int64_t)>& epoch) {
  const auto start = Clock::now();
  int64_t samples = 0;
  for (int64_t index = 0; index < epochs; ++index) samples += epoch(index);
  return static_cast<double>(samples) / std::chrono::duration<double>(Clock::now() - start).count();
}

int run(const Options& options) {
  at::set_num_threads(options.threads);
  const trainer::config::LoadedConfig loaded =
      trainer::config::load_config({options.config}, options.overrides, trainer::RegistryCatalog());
  const auto seed = static_cast<uint64_t>(loaded.settings.seed_everything);
  trainer::data::DataConnector data(loaded.settings.data, seed);
  trainer::data::Loader& loader = data.train_loader();

  // Plain tensors with the same samples, gathered from one epoch of the loader's batches.
  // NOTE: index_bytes assumes the Fashion-MNIST transform (pixels scaled to [0, 1], then
  // standardised with mean 0.2860 and std 0.3530) and inverts it to recover the bytes.
  loader.set_epoch(0);
  std::vector<at::Tensor> input_parts;
  std::vector<at::Tensor> target_parts;
  for (int64_t index = 0; index < loader.num_batches(); ++index) {
    const trainer::data::Batch batch = loader.batch(index);
    input_parts.push_back(batch.inputs);
    target_parts.push_back(batch.targets);
  }
  const at::Tensor floats = at::cat(input_parts);
  const at::Tensor targets = at::cat(target_parts);
  const at::Tensor bytes = floats.mul(0.3530).add_(0.2860).mul_(255.0).round_().to(at::kByte);
  const int64_t size = floats.size(0);
  const int64_t batch_size = loaded.settings.data.as<trainer::data::LoaderArgs>().batch_size;

  auto plain_epoch = [&](const at::Tensor& inputs, bool normalize_batch, int64_t epoch) {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(trainer::data::mix_seed({seed, static_cast<uint64_t>(epoch)}));
    const at::Tensor order = at::randperm(size, generator, at::TensorOptions().dtype(at::kLong));
    int64_t samples = 0;
    for (int64_t begin = 0; begin < size; begin += batch_size) {
      const at::Tensor indices = order.slice(0, begin, std::min(begin + batch_size, size));
      at::Tensor batch_inputs = inputs.index_select(0, indices);
      if (normalize_batch) batch_inputs = batch_inputs.to(at::kFloat).div_(255.0).sub_(0.2860).div_(0.3530);
      samples += targets.index_select(0, indices).size(0);
    }
    return samples;
  };
  struct Variant {
    const char* name;
    std::function<int64_t(int64_t)> epoch;
    std::vector<double> rates;
  };
  std::vector<Variant> variants = {
      {"loader",
       [&](int64_t epoch) {
         loader.set_epoch(epoch);
         int64_t samples = 0;
         for (int64_t index = 0; index < loader.num_batches(); ++index) samples += loader.batch(index).size();
         return samples;
       },
       {}},
      {"index_float", [&](int64_t epoch) { return plain_epoch(floats, false, epoch); }, {}},
      {"index_bytes", [&](int64_t epoch) { return plain_epoch(bytes, true, epoch); }, {}},
  };

  // Interleaved repeats, so drift in the machine's load hits every variant alike.
  for (Variant& variant : variants) variant.epoch(0);  // warm up the allocator and the thread pool
  for (int64_t repeat = 0; repeat < options.repeats; ++repeat) {
    for (Variant& variant : variants) variant.rates.push_back(time_epochs(options.epochs, variant.epoch));
  }
  for (const Variant& variant : variants) {
    std::printf("variant=%s samples_per_second=%.0f min=%.0f max=%.0f repeats=%lld epoch_samples=%lld\n", variant.name,
                median(variant.rates), *std::min_element(variant.rates.begin(), variant.rates.end()),
                *std::max_element(variant.rates.begin(), variant.rates.end()),
                static_cast<long long>(options.repeats), static_cast<long long>(size));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const trainer::config::ConfigError& error) {
    std::fprintf(stderr, "loader_bench: config error: %s\n", error.what());
    return 2;
  } catch (const trainer::Error& error) {
    std::fprintf(stderr, "loader_bench: %s\n", error.what());
    return static_cast<int>(error.code());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "loader_bench: %s\n", error.what());
    return 1;
  }
}
