#include "data/data_connector.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>

#include "core/errors.h"

namespace trainer::data {

DataConnector::DataConnector(const config::DataSettings& settings, uint64_t seed) {
  const DataRegistry::Entry* entry = data_registry().find(settings.class_path);
  if (entry == nullptr || !settings.args) {
    throw DataError("unknown dataset '" + settings.class_path + "'");
  }
  const auto& loader_args = dynamic_cast<const LoaderArgs&>(*settings.args);
  LoadedData data = entry->build(*settings.args);
  spec_ = data.spec;

  TensorDataset train = data.train;
  TensorDataset val = data.val;
  if (val.size() == 0 && loader_args.val_size > 0) {
    if (loader_args.val_size >= train.size()) {
      throw DataError("data.init_args.val_size is " + std::to_string(loader_args.val_size) + " but the training set has only " +
                      std::to_string(train.size()) + " samples; lower val_size");
    }
    // The split depends on the seed alone, so fit, validate and test see the same validation samples.
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const at::Tensor order = at::randperm(train.size(), generator, at::TensorOptions().dtype(at::kLong));
    val = data.train.select(order.slice(0, 0, loader_args.val_size));
    train = data.train.select(order.slice(0, loader_args.val_size));
  }
  if (train.size() == 0) throw DataError("dataset '" + settings.class_path + "' has no training samples");

  const int64_t batch_size = loader_args.batch_size;
  train_ = Loader(train, batch_size, loader_args.shuffle, seed, data.transform);
  val_ = Loader(val, batch_size, false, seed, data.transform);
  test_ = Loader(data.test, batch_size, false, seed, data.transform);
}

}  // namespace trainer::data
