#include "data/data_connector.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <c10/util/Exception.h>

#include <cmath>

#include "config/load.h"
#include "core/errors.h"

namespace trainer::data {
namespace {

constexpr const char* kDatasetPrefix = "dataset/";

/// Returns how many samples `size` takes out of `available`, naming `key` in errors.
int64_t resolve_split_size(const config::BatchLimit& size, int64_t available, const std::string& key) {
  const int64_t count = size.is_fraction ? static_cast<int64_t>(std::floor(size.value * static_cast<double>(available)))
                                         : static_cast<int64_t>(size.value);
  if (count >= available && count > 0) {
    throw DataError("data.init_args." + key + " is " +
                    (size.is_fraction ? config::format_double(size.value) : std::to_string(count)) +
                    " but the training set has only " + std::to_string(available) + " samples; lower " + key);
  }
  return count;
}

/// Carves validation and test samples out of `data.train` where the dataset left
/// them empty. The split depends on the seed alone, so fit, validate and test see
/// the same samples in each split.
void split_train(LoadedData& data, const LoaderArgs& args, uint64_t seed) {
  const int64_t available = data.train.size();
  const int64_t val_count = data.val.size() == 0 ? resolve_split_size(args.val_size, available, "val_size") : 0;
  const int64_t test_count = data.test.size() == 0 ? resolve_split_size(args.test_size, available, "test_size") : 0;
  if (val_count + test_count >= available && val_count + test_count > 0) {
    throw DataError("data.init_args.val_size and test_size take " + std::to_string(val_count + test_count) +
                    " samples but the training set has only " + std::to_string(available) +
                    "; lower them so training samples remain");
  }
  if (val_count == 0 && test_count == 0) return;

  // NOTE: select() copies the chosen samples, so a seeded split reads a memory-mapped .npy
  // file into memory; explicit val and test files keep the training array mapped.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor order = at::randperm(available, generator, at::TensorOptions().dtype(at::kLong));
  const TensorDataset all = data.train;
  if (val_count > 0) data.val = all.select(order.slice(0, 0, val_count));
  if (test_count > 0) data.test = all.select(order.slice(0, val_count, val_count + test_count));
  data.train = all.select(order.slice(0, val_count + test_count));
}

}  // namespace

DataConnector::DataConnector(const config::DataSettings& settings, uint64_t seed, Shard shard, bool pin_memory)
    : seed_(seed), shard_(shard), pin_memory_(pin_memory) {
  const DataRegistry::Entry* entry = data_registry().find(settings.class_path);
  if (entry == nullptr || !settings.args) {
    throw DataError("unknown dataset '" + settings.class_path + "'");
  }
  loader_args_ = dynamic_cast<const LoaderArgs&>(*settings.args);
  try {
    data_ = entry->build(*settings.args);
    split_train(data_, loader_args_, seed);
    if (data_.train.size() == 0) throw DataError("dataset '" + settings.class_path + "' has no training samples");
    data_.transform.fit(data_.train.inputs);
  } catch (const c10::Error& error) {
    // LibTorch's own message, with the dataset named, instead of a bare backtrace.
    throw DataError("loading dataset '" + settings.class_path + "' failed: " + error.what_without_backtrace());
  }
  spec_ = data_.spec;
  build_loaders();
}

void DataConnector::build_loaders() {
  LoaderOptions train_options;
  train_options.batch_size = loader_args_.batch_size;
  train_options.training = true;
  train_options.shuffle = loader_args_.shuffle;
  train_options.drop_last = loader_args_.drop_last;
  train_options.num_workers = loader_args_.num_workers;
  train_options.pin_memory = pin_memory_;
  train_options.shard = shard_;

  LoaderOptions eval_options = train_options;
  eval_options.training = false;
  eval_options.shuffle = false;
  eval_options.drop_last = false;

  train_ = Loader(data_.train, train_options, seed_, data_.transform);
  val_ = Loader(data_.val, eval_options, seed_, data_.transform);
  test_ = Loader(data_.test, eval_options, seed_, data_.transform);
}

StateDict DataConnector::state() const {
  StateDict state;
  for (const auto& [key, value] : data_.state) state[kDatasetPrefix + key] = value;
  for (const auto& [key, value] : data_.transform.state()) state[key] = value;
  const LoaderState position = train_.state();
  state["train_loader/epoch"] = scalar_state(position.epoch);
  state["train_loader/next_batch"] = scalar_state(position.next_batch);
  state["train_loader/seed"] = scalar_state(static_cast<int64_t>(position.seed));
  return state;
}

void DataConnector::load_state(const StateDict& state) {
  StateDict dataset_state;
  for (const auto& [key, value] : state) {
    if (key.rfind(kDatasetPrefix, 0) == 0) dataset_state[key.substr(std::string(kDatasetPrefix).size())] = value;
  }
  if (!dataset_state.empty() && data_.restore) {
    data_.restore(dataset_state, data_);
    for (const auto& [key, value] : dataset_state) data_.state[key] = value;
    spec_ = data_.spec;
  }
  data_.transform.load_state(state);
  build_loaders();

  const LoaderState current = train_.state();
  LoaderState saved;
  saved.epoch = read_scalar(state, "train_loader/epoch", current.epoch);
  saved.next_batch = read_scalar(state, "train_loader/next_batch", current.next_batch);
  saved.seed = static_cast<uint64_t>(read_scalar(state, "train_loader/seed", static_cast<int64_t>(current.seed)));
  train_.load_state(saved);
}

}  // namespace trainer::data
