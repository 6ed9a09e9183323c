#include "trainer/checkpoint.h"

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/version.h>

#include <filesystem>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"

namespace trainer {
namespace {

constexpr const char* kFormat = "trainer-checkpoint";
constexpr int64_t kFormatVersion = 1;

std::string c10_message(const c10::Error& error) { return error.what_without_backtrace(); }

using ShapeList = std::vector<std::pair<std::string, std::vector<int64_t>>>;

ShapeList tensor_shapes(const torch::nn::Module& module) {
  ShapeList shapes;
  for (const auto& item : module.named_parameters()) shapes.emplace_back(item.key(), item.value().sizes().vec());
  for (const auto& item : module.named_buffers()) shapes.emplace_back(item.key(), item.value().sizes().vec());
  return shapes;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const CheckpointInfo& info) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("format_version", c10::IValue(kFormatVersion));
  archive.write("libtorch_version", c10::IValue(std::string(TORCH_VERSION)));
  archive.write("epoch", c10::IValue(info.epoch));
  archive.write("batch_in_epoch", c10::IValue(info.batch_in_epoch));
  archive.write("global_step", c10::IValue(info.global_step));
  archive.write("model_class", c10::IValue(info.model_class));
  archive.write("config", c10::IValue(info.config_yaml));

  c10::Dict<std::string, double> scheduler;
  for (const auto& [key, value] : info.scheduler) scheduler.insert(key, value);
  archive.write("scheduler", c10::IValue(scheduler));
  c10::List<c10::Dict<std::string, std::string>> callbacks;
  for (const auto& state : info.callbacks) {
    c10::Dict<std::string, std::string> entry;
    for (const auto& [key, value] : state) entry.insert(key, value);
    callbacks.push_back(entry);
  }
  archive.write("callbacks", c10::IValue(callbacks));
  torch::serialize::OutputArchive data_archive;
  for (const auto& [key, tensor] : info.data) data_archive.write(key, tensor, /*is_buffer=*/true);
  archive.write("data", data_archive);
  if (info.rng_cpu.defined()) archive.write("rng_cpu", info.rng_cpu, /*is_buffer=*/true);

  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }

  std::ostringstream bytes;
  archive.save_to(bytes);
  try {
    write_file_atomic(path, bytes.str());
  } catch (const std::runtime_error& error) {
    throw CheckpointError(std::string("saving checkpoint: ") + error.what());
  }
}

namespace {

/// Opens `path` as a checkpoint archive and reads everything but the model and optimizer.
CheckpointInfo read_info(const std::string& path, torch::serialize::InputArchive& archive) {
  const std::string where = "checkpoint '" + path + "'";
  if (!std::filesystem::is_regular_file(path)) throw CheckpointError(where + " not found");
  try {
    archive.load_from(path);
  } catch (const c10::Error& error) {
    throw CheckpointError(where + " is not a readable checkpoint (truncated or another format?): " + c10_message(error));
  }
  CheckpointInfo info;
  c10::IValue value;
  if (!archive.try_read("format", value) || !value.isString() || value.toStringRef() != kFormat) {
    throw CheckpointError(where + " was not written by trainer (no 'format' record)");
  }
  archive.read("format_version", value);
  if (value.toInt() > kFormatVersion) {
    throw CheckpointError(where + " has format version " + std::to_string(value.toInt()) +
                          "; this build reads up to version " + std::to_string(kFormatVersion) + "; upgrade trainer");
  }
  archive.read("epoch", value);
  info.epoch = value.toInt();
  archive.read("global_step", value);
  info.global_step = value.toInt();
  archive.read("model_class", value);
  info.model_class = value.toStringRef();
  archive.read("config", value);
  info.config_yaml = value.toStringRef();
  if (archive.try_read("batch_in_epoch", value)) info.batch_in_epoch = value.toInt();
  if (archive.try_read("scheduler", value)) {
    for (const auto& entry : value.toGenericDict()) info.scheduler[entry.key().toStringRef()] = entry.value().toDouble();
  }
  if (archive.try_read("callbacks", value)) {
    for (const c10::IValue& item : value.toListRef()) {
      std::map<std::string, std::string> state;
      for (const auto& entry : item.toGenericDict()) state[entry.key().toStringRef()] = entry.value().toStringRef();
      info.callbacks.push_back(std::move(state));
    }
  }
  torch::serialize::InputArchive data_archive;
  if (archive.try_read("data", data_archive)) {
    for (const std::string& key : data_archive.keys()) {
      at::Tensor tensor;
      data_archive.read(key, tensor, /*is_buffer=*/true);
      info.data[key] = tensor;
    }
  }
  at::Tensor rng;
  if (archive.try_read("rng_cpu", rng, /*is_buffer=*/true)) info.rng_cpu = rng;

  return info;
}

}  // namespace

CheckpointInfo read_checkpoint_info(const std::string& path) {
  torch::serialize::InputArchive archive;
  return read_info(path, archive);
}

CheckpointInfo load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                               const std::function<void(const CheckpointInfo&)>& before_load) {
  const std::string where = "checkpoint '" + path + "'";
  torch::serialize::InputArchive archive;
  const CheckpointInfo info = read_info(path, archive);
  if (before_load) before_load(info);

  // Module::load replaces each tensor with the stored one, whatever its shape, so a
  // checkpoint of another architecture would load silently; compare shapes after it.
  const ShapeList expected = tensor_shapes(model);
  try {
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    model.load(model_archive);
  } catch (const c10::Error& error) {
    throw CheckpointError(where + " does not match the configured model (was it trained with other model "
                          "init_args?): " + c10_message(error));
  }
  const ShapeList loaded = tensor_shapes(model);
  for (size_t i = 0; i < expected.size() && i < loaded.size(); ++i) {
    if (expected[i].second != loaded[i].second) {
      throw CheckpointError(where + " does not match the configured model (was it trained with other model "
                            "init_args?): '" + expected[i].first + "' has shape " + shape_text(loaded[i].second) +
                            " in the checkpoint but " + shape_text(expected[i].second) + " in the model");
    }
  }
  if (optimizer != nullptr) {
    torch::serialize::InputArchive optimizer_archive;
    if (!archive.try_read("optimizer", optimizer_archive)) {
      throw CheckpointError(where + " holds no optimizer state, so training cannot resume from it");
    }
    try {
      optimizer->load(optimizer_archive);
    } catch (const c10::Error& error) {
      throw CheckpointError(where + " holds optimizer state that does not match the configured optimizer: " +
                            c10_message(error));
    }
  }
  return info;
}

std::string resolve_checkpoint_path(const std::string& ckpt_path, const std::string& root, const std::string& run_name) {
  if (ckpt_path != "last") return ckpt_path;
  namespace fs = std::filesystem;
  const fs::path group = fs::path(root) / run_name;
  fs::path newest;
  fs::file_time_type newest_time;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(group, error)) {
    const fs::path candidate = entry.path() / "checkpoints" / "last.ckpt";
    if (!fs::is_regular_file(candidate)) continue;
    const auto time = fs::last_write_time(candidate, error);
    if (newest.empty() || time > newest_time) {
      newest = candidate;
      newest_time = time;
    }
  }
  if (newest.empty()) {
    throw CheckpointError("--ckpt_path last: no checkpoints/last.ckpt under '" + group.string() +
                          "'; run fit first or pass a checkpoint path");
  }
  return newest.string();
}

}  // namespace trainer
