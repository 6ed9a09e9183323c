#include "data/dataset.h"

#include <ATen/Functions.h>

namespace trainer::data {

void register_mnist_datasets(DataRegistry& registry);
void register_csv_dataset(DataRegistry& registry);
void register_npy_dataset(DataRegistry& registry);
void register_text_dataset(DataRegistry& registry);

void LoaderArgs::visit_loader(config::FieldVisitor& v) {
  v.field("batch_size", batch_size, {"Samples per training batch; evaluation uses the same size.", {}, 1});
  v.field("val_size", val_size,
          {"Validation samples held out of the training set, chosen by seed_everything: an int counts "
           "samples, a float is a fraction. Ignored when the dataset has its own validation file.",
           {}, 0});
  v.field("test_size", test_size,
          {"Test samples held out of the training set like val_size. Ignored when the dataset has "
           "its own test file.",
           {}, 0});
  v.field("shuffle", shuffle, {"Shuffle the training set each epoch (order set by seed and epoch)."});
  v.field("drop_last", drop_last, {"Skip the last training batch of an epoch when it is smaller than batch_size."});
  v.field("num_workers", num_workers,
          {"Background threads that build batches ahead of training; 0 builds each batch when it is read.",
           {}, 0, 64});
}

DataRegistry& data_registry() {
  static DataRegistry registry = [] {
    DataRegistry built_in;
    register_mnist_datasets(built_in);
    register_csv_dataset(built_in);
    register_npy_dataset(built_in);
    register_text_dataset(built_in);
    return built_in;
  }();
  return registry;
}

at::Tensor encode_names(const std::vector<std::string>& names) {
  std::string joined;
  for (size_t i = 0; i < names.size(); ++i) joined += (i ? "\n" : "") + names[i];
  at::Tensor encoded = at::empty({static_cast<int64_t>(joined.size())}, at::kByte);
  std::copy(joined.begin(), joined.end(), encoded.data_ptr<uint8_t>());
  return encoded;
}

std::vector<std::string> decode_names(const at::Tensor& encoded) {
  const at::Tensor bytes = encoded.to(at::kByte).contiguous();
  const auto* data = bytes.data_ptr<uint8_t>();
  const std::string joined(data, data + bytes.numel());
  std::vector<std::string> names;
  size_t start = 0;
  while (true) {
    const size_t end = joined.find('\n', start);
    names.push_back(joined.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return names;
}

at::Tensor scalar_state(int64_t value) { return at::scalar_tensor(value, at::kLong); }

int64_t read_scalar(const StateDict& state, const std::string& key, int64_t fallback) {
  const auto it = state.find(key);
  return it == state.end() ? fallback : it->second.item<int64_t>();
}

}  // namespace trainer::data
