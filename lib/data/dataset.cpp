#include "data/dataset.h"

namespace trainer::data {

void register_mnist_datasets(DataRegistry& registry);

void LoaderArgs::visit_loader(config::FieldVisitor& v) {
  v.field("batch_size", batch_size, {"Samples per training batch; evaluation uses the same size.", {}, 1});
  v.field("val_size", val_size,
          {"Samples held out of the training set for validation, chosen by seed_everything.", {}, 0});
  v.field("shuffle", shuffle, {"Shuffle the training set each epoch (order set by seed and epoch)."});
}

DataRegistry& data_registry() {
  static DataRegistry registry = [] {
    DataRegistry built_in;
    register_mnist_datasets(built_in);
    return built_in;
  }();
  return registry;
}

}  // namespace trainer::data
