// The MNIST family: Fashion-MNIST and MNIST in IDX files, gzipped or plain.

#include <ATen/Functions.h>

#include <filesystem>

#include "core/errors.h"
#include "data/dataset.h"
#include "data/idx.h"

namespace trainer::data {
namespace {

struct MnistArgs : config::Args, LoaderArgs, AugmentArgs {
  std::string root;
  double mean = 0.1307;  // MNIST training pixels scaled to [0, 1]
  double std = 0.3081;

  void visit(config::FieldVisitor& v) override {
    v.field("root", root, {"Folder with the four IDX files (train/t10k images and labels, .gz or plain).",
                           {}, {}, {}, true});
    visit_loader(v);
    v.field("mean", mean, {"Pixel mean subtracted after scaling pixels to [0, 1]."});
    v.field("std", std, {"Pixel standard deviation divided out after subtracting the mean.", {}, 1e-12});
    visit_augment(v);
  }
};

/// Returns `root/name` or `root/name.gz`, whichever exists.
std::string find_idx_file(const std::string& root, const std::string& name) {
  for (const std::string& candidate : {name + ".gz", name}) {
    const std::filesystem::path path = std::filesystem::path(root) / candidate;
    if (std::filesystem::exists(path)) return path.string();
  }
  throw DataError("dataset file '" + name + "' (or '" + name + ".gz') not found in '" + root + "'");
}

TensorDataset load_split(const std::string& root, const std::string& prefix) {
  const std::string images_path = find_idx_file(root, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_idx_file(root, prefix + "-labels-idx1-ubyte");
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3) {
    throw DataError("'" + images_path + "' contains " + std::to_string(images.dims.size()) +
                    "-dimensional data; expected images (count, rows, columns)");
  }
  if (labels.dims.size() != 1) {
    throw DataError("'" + labels_path + "' contains " + std::to_string(labels.dims.size()) +
                    "-dimensional data; expected one label per image");
  }
  if (images.dims[0] != labels.dims[0]) {
    throw DataError("'" + images_path + "' has " + std::to_string(images.dims[0]) + " images but '" + labels_path +
                    "' has " + std::to_string(labels.dims[0]) + " labels");
  }
  for (uint8_t label : labels.values) {
    if (label > 9) {
      throw DataError("'" + labels_path + "' contains label " + std::to_string(label) + "; expected 0 to 9");
    }
  }

  const int64_t count = images.dims[0];
  TensorDataset split;
  split.inputs = at::from_blob(images.values.data(), {count, 1, images.dims[1], images.dims[2]}, at::kByte).clone();
  split.targets = at::from_blob(labels.values.data(), {count}, at::kByte).to(at::kLong);
  return split;
}

LoadedData load_mnist(const MnistArgs& args) {
  if (!std::filesystem::is_directory(args.root)) {
    throw DataError("dataset folder '" + args.root + "' not found; set data.init_args.root");
  }
  LoadedData data;
  data.train = load_split(args.root, "train");
  data.test = load_split(args.root, "t10k");
  data.spec.input_shape = {1, data.train.inputs.size(2), data.train.inputs.size(3)};
  data.spec.num_outputs = 10;
  data.transform.scale = 1.0 / 255.0;
  data.transform.mean = at::scalar_tensor(args.mean, at::kFloat);
  data.transform.std = at::scalar_tensor(args.std, at::kFloat);
  data.transform.crop_padding = args.random_crop_padding;
  data.transform.flip_probability = args.horizontal_flip;
  return data;
}

/// Fashion-MNIST as Debian's dataset-fashion-mnist package installs it.
struct FashionMnistArgs : MnistArgs {
  FashionMnistArgs() {
    root = "/usr/share/datasets/fashion-mnist";
    mean = 0.2860;  // Fashion-MNIST training pixels scaled to [0, 1]
    std = 0.3530;
  }
};

}  // namespace

void register_mnist_datasets(DataRegistry& registry) {
  registry.add<FashionMnistArgs>("fashion_mnist", "Fashion-MNIST: 28x28 grey images of clothing, 10 classes",
                                 [](const FashionMnistArgs& args) { return load_mnist(args); });
  registry.add<MnistArgs>("mnist", "MNIST: 28x28 grey images of handwritten digits, 10 classes",
                          [](const MnistArgs& args) {
                            if (args.root.empty()) {
                              throw DataError("data.init_args.root is required for 'mnist': Debian ships no MNIST "
                                              "package, so point it at a folder with the four IDX files");
                            }
                            return load_mnist(args);
                          });
}

}  // namespace trainer::data
