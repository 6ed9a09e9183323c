// Features and labels from NumPy .npy files, as Python users write them with np.save.

#include <ATen/Functions.h>

#include "core/errors.h"
#include "data/dataset.h"
#include "data/npy_file.h"

namespace trainer::data {
namespace {

struct NpyArgs : config::Args, LoaderArgs, AugmentArgs {
  std::string inputs;
  std::string targets;
  std::string val_inputs;
  std::string val_targets;
  std::string test_inputs;
  std::string test_targets;
  std::string task = "classification";
  bool standardize = false;

  NpyArgs() { val_size = {0.1, true}; }

  void visit(config::FieldVisitor& v) override {
    v.field("inputs", inputs, {"Training features: a .npy array with one row per sample.", {}, {}, {}, true});
    v.field("targets", targets,
            {"Training targets: a .npy array of class indices (int64 or uint8) or of real values.", {}, {}, {}, true});
    v.field("val_inputs", val_inputs,
            {"Validation features; empty: hold out val_size samples of the training set.", {}, {}, {}, true});
    v.field("val_targets", val_targets, {"Validation targets, given together with val_inputs.", {}, {}, {}, true});
    v.field("test_inputs", test_inputs,
            {"Test features; empty: hold out test_size samples of the training set.", {}, {}, {}, true});
    v.field("test_targets", test_targets, {"Test targets, given together with test_inputs.", {}, {}, {}, true});
    v.field("task", task,
            {"What the model predicts: class indices 0..K-1 (K = the largest training label + 1) or real values.",
             {"classification", "regression"}});
    v.field("standardize", standardize,
            {"Standardise inputs with statistics of the training split: per feature for (N, F) arrays, per "
             "channel for (N, C, H, W). uint8 inputs are scaled to [0, 1] first, with or without this."});
    visit_loader(v);
    visit_augment(v);
  }
};

/// Loads one split and checks that its inputs and targets agree in count and type.
TensorDataset load_split(const std::string& inputs_path, const std::string& targets_path, bool classification) {
  TensorDataset split;
  split.inputs = read_npy(inputs_path);
  split.targets = read_npy(targets_path);
  if (split.inputs.size(0) != split.targets.size(0)) {
    throw DataError("'" + inputs_path + "' has " + std::to_string(split.inputs.size(0)) + " samples but '" +
                    targets_path + "' has " + std::to_string(split.targets.size(0)) + " targets");
  }
  for (const auto& [tensor, path] : {std::pair{&split.inputs, &inputs_path}, std::pair{&split.targets, &targets_path}}) {
    if (!tensor->is_floating_point() || tensor->numel() == 0) continue;
    const at::Tensor bad = at::logical_not(at::isfinite(*tensor)).reshape({tensor->size(0), -1}).any(1);
    if (bad.any().item<bool>()) {
      const int64_t sample = bad.nonzero().min().item<int64_t>();
      throw DataError("'" + *path + "' contains NaN or infinite values, first in sample " + std::to_string(sample) +
                      " (of " + std::to_string(tensor->size(0)) + "); clean the data before training");
    }
  }
  // float32 and uint8 inputs stay memory-mapped; other types are converted once here.
  if (split.inputs.scalar_type() == at::kDouble || split.inputs.scalar_type() == at::kLong) {
    split.inputs = split.inputs.to(at::kFloat);
  }

  if (classification) {
    if (split.targets.is_floating_point()) {
      throw DataError("'" + targets_path + "' contains floating-point targets, but classification needs class indices "
                      "(int64 or uint8); convert them, or set data.init_args.task: regression");
    }
    if (split.targets.dim() != 1) {
      throw DataError("'" + targets_path + "' has shape " + std::string(c10::str(split.targets.sizes())) +
                      "; classification needs one class index per sample, shape (N,)");
    }
    split.targets = split.targets.to(at::kLong);
    if (split.targets.numel() > 0 && split.targets.min().item<int64_t>() < 0) {
      throw DataError("'" + targets_path + "' contains the negative class index " +
                      std::to_string(split.targets.min().item<int64_t>()) + "; class indices start at 0");
    }
  } else {
    split.targets = split.targets.to(at::kFloat);
    if (split.targets.dim() == 1) split.targets = split.targets.unsqueeze(1);
    if (split.targets.dim() != 2) {
      throw DataError("'" + targets_path + "' has shape " + std::string(c10::str(split.targets.sizes())) +
                      "; regression needs shape (N,) or (N, outputs)");
    }
  }
  return split;
}

void check_pair(const std::string& inputs, const std::string& targets, const std::string& prefix) {
  if (inputs.empty() != targets.empty()) {
    throw DataError("data.init_args." + prefix + "inputs and " + prefix + "targets must be given together");
  }
}

LoadedData load_npy(const NpyArgs& args) {
  if (args.inputs.empty() || args.targets.empty()) {
    throw DataError("data.init_args.inputs and targets are required for 'npy': name the training .npy files");
  }
  check_pair(args.val_inputs, args.val_targets, "val_");
  check_pair(args.test_inputs, args.test_targets, "test_");
  const bool classification = args.task == "classification";

  LoadedData data;
  data.train = load_split(args.inputs, args.targets, classification);
  if (!args.val_inputs.empty()) data.val = load_split(args.val_inputs, args.val_targets, classification);
  if (!args.test_inputs.empty()) data.test = load_split(args.test_inputs, args.test_targets, classification);

  const at::Tensor& train_inputs = data.train.inputs;
  for (const auto& [split, path] : {std::pair{&data.val, &args.val_inputs}, std::pair{&data.test, &args.test_inputs}}) {
    if (split->size() == 0) continue;
    if (split->inputs.sizes().slice(1) != train_inputs.sizes().slice(1) ||
        split->inputs.scalar_type() != train_inputs.scalar_type()) {
      throw DataError("'" + *path + "' contains samples of shape " + std::string(c10::str(split->inputs.sizes().slice(1))) +
                      " and type " + std::string(c10::toString(split->inputs.scalar_type())) + " but '" + args.inputs +
                      "' contains " + std::string(c10::str(train_inputs.sizes().slice(1))) + " and " +
                      std::string(c10::toString(train_inputs.scalar_type())));
    }
  }

  data.spec.input_shape = train_inputs.sizes().slice(1).vec();
  if (classification) {
    data.spec.task = Task::classification;
    data.spec.num_outputs = data.train.size() > 0 ? data.train.targets.max().item<int64_t>() + 1 : 0;
    for (const auto& [split, path] :
         {std::pair{&data.val, &args.val_targets}, std::pair{&data.test, &args.test_targets}}) {
      if (split->size() > 0 && split->targets.max().item<int64_t>() >= data.spec.num_outputs) {
        throw DataError("'" + *path + "' contains class index " +
                        std::to_string(split->targets.max().item<int64_t>()) + " but the training targets have " +
                        std::to_string(data.spec.num_outputs) + " classes (0 to " +
                        std::to_string(data.spec.num_outputs - 1) + ")");
      }
    }
  } else {
    data.spec.task = Task::regression;
    data.spec.num_outputs = data.train.targets.size(1);
  }

  if (train_inputs.scalar_type() == at::kByte) data.transform.scale = 1.0 / 255.0;
  data.transform.standardize = args.standardize;
  data.transform.crop_padding = args.random_crop_padding;
  data.transform.flip_probability = args.horizontal_flip;
  return data;
}

}  // namespace

void register_npy_dataset(DataRegistry& registry) {
  registry.add<NpyArgs>("npy", "Features and targets from NumPy .npy files (np.save), memory-mapped",
                        [](const NpyArgs& args) { return load_npy(args); });
}

}  // namespace trainer::data
