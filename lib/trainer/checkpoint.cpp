#include "trainer/checkpoint.h"

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/version.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "accelerator/accelerator_connector.h"
#include "core/atomic_file.h"
#include "core/errors.h"

namespace trainer {
namespace {

constexpr const char* kFormat = "trainer-checkpoint";
// Version 2 appends the checksum trailer; version 1 files (no trailer) still load.
constexpr int64_t kFormatVersion = 2;

/// Returns the dtype of the model's first floating-point parameter or buffer; none when it has none.
c10::optional<at::ScalarType> floating_dtype(const torch::nn::Module& model) {
  for (const at::Tensor& tensor : model.parameters()) {
    if (tensor.is_floating_point()) return tensor.scalar_type();
  }
  for (const at::Tensor& tensor : model.buffers()) {
    if (tensor.is_floating_point()) return tensor.scalar_type();
  }
  return c10::nullopt;
}

std::string dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return c10::toString(dtype);
  }
}

// The trailer after the zip archive: magic, archive length (uint64) and CRC-32 of the
// archive (uint32), little-endian, then 4 reserved zero bytes. Zip readers, including
// Python's torch.jit.load, find the archive from its end record and skip trailing bytes.
constexpr char kTrailerMagic[8] = {'T', 'R', 'N', 'R', 'C', 'K', 'P', 'T'};
constexpr size_t kTrailerSize = 24;

uint32_t crc32_of(const char* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const auto chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get_le(const char* in, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(in[i]);
  return value;
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

/// A checkpoint file's archive bytes after the trailer check.
struct ArchiveBytes {
  std::string bytes;         ///< the whole file; the archive is its first `size` bytes
  size_t size = 0;
  bool has_checksum = false;
};

/// Reads `path` and checks its trailer. Throws CheckpointError naming the file when the
/// file is missing, the trailer's length does not match, or the CRC-32 differs.
ArchiveBytes read_archive_bytes(const std::string& path) {
  const std::string where = "checkpoint '" + path + "'";
  if (!std::filesystem::is_regular_file(path)) throw CheckpointError(where + " not found");
  ArchiveBytes file;
  try {
    file.bytes = read_file(path);
  } catch (const std::runtime_error& error) {
    throw CheckpointError(where + " cannot be read: " + error.what());
  }
  file.size = file.bytes.size();
  if (file.size < kTrailerSize ||
      std::memcmp(file.bytes.data() + file.size - kTrailerSize, kTrailerMagic, sizeof kTrailerMagic) != 0) {
    return file;  // no trailer: a version 1 file, or not a checkpoint (the archive check says which)
  }
  const char* trailer = file.bytes.data() + file.size - kTrailerSize;
  const uint64_t length = get_le(trailer + 8, 8);
  const auto stored = static_cast<uint32_t>(get_le(trailer + 16, 4));
  if (length != file.size - kTrailerSize) {
    throw CheckpointError(where + " is truncated or damaged: its trailer records " + std::to_string(length) +
                          " archive bytes but " + std::to_string(file.size - kTrailerSize) +
                          " precede it; use another checkpoint");
  }
  const uint32_t computed = crc32_of(file.bytes.data(), length);
  if (computed != stored) {
    throw CheckpointError(where + " is corrupted: the CRC-32 of its " + std::to_string(length) + " archive bytes is " +
                          hex32(computed) + " but its trailer records " + hex32(stored) + "; use another checkpoint");
  }
  file.size = length;
  file.has_checksum = true;
  return file;
}

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

  if (const c10::optional<at::ScalarType> dtype = floating_dtype(model)) {
    archive.write("parameter_dtype", c10::IValue(std::string(c10::toString(*dtype))));
  }
  c10::Dict<std::string, double> scheduler;
  for (const auto& [key, value] : info.scheduler) scheduler.insert(key, value);
  archive.write("scheduler", c10::IValue(scheduler));
  if (!info.epoch_metrics.empty()) {
    c10::Dict<std::string, double> epoch_metrics;
    for (const auto& [key, value] : info.epoch_metrics) epoch_metrics.insert(key, value);
    archive.write("epoch_metrics", c10::IValue(epoch_metrics));
  }
  if (!info.grad_scaler.empty()) {
    c10::Dict<std::string, double> grad_scaler;
    for (const auto& [key, value] : info.grad_scaler) grad_scaler.insert(key, value);
    archive.write("grad_scaler", c10::IValue(grad_scaler));
  }
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

  std::ostringstream stream;
  archive.save_to(stream);
  std::string bytes = std::move(stream).str();
  const uint32_t crc = crc32_of(bytes.data(), bytes.size());
  const uint64_t length = bytes.size();
  bytes.append(kTrailerMagic, sizeof kTrailerMagic);
  put_le(bytes, length, 8);
  put_le(bytes, crc, 4);
  put_le(bytes, 0, 4);
  try {
    write_file_atomic(path, bytes);
  } catch (const std::runtime_error& error) {
    throw CheckpointError(std::string("saving checkpoint: ") + error.what());
  }
}

namespace {

CheckpointInfo read_info_records(const std::string& path, torch::serialize::InputArchive& archive);

/// Opens `path` as a checkpoint archive and reads everything but the model and optimizer.
CheckpointInfo read_info(const std::string& path, torch::serialize::InputArchive& archive) {
  try {
    return read_info_records(path, archive);
  } catch (const c10::Error& error) {
    // A record of the wrong type: a damaged file, or a zip archive written by something else.
    throw CheckpointError("checkpoint '" + path + "' has an invalid record: " + c10_message(error));
  }
}

CheckpointInfo read_info_records(const std::string& path, torch::serialize::InputArchive& archive) {
  const std::string where = "checkpoint '" + path + "'";
  const ArchiveBytes file = read_archive_bytes(path);
  try {
    archive.load_from(file.bytes.data(), file.size);
  } catch (const c10::Error& error) {
    throw CheckpointError(where + " is not a readable checkpoint (truncated or another format?): " + c10_message(error));
  }
  CheckpointInfo info;
  c10::IValue value;
  if (!archive.try_read("format", value) || !value.isString() || value.toStringRef() != kFormat) {
    throw CheckpointError(where + " was not written by trainer (no 'format' record)");
  }
  if (!archive.try_read("format_version", value) || !value.isInt()) {
    throw CheckpointError(where + " has no valid 'format_version' record; it is damaged or was not written by trainer");
  }
  const int64_t version = value.toInt();
  if (version > kFormatVersion) {
    std::string written_by;
    if (archive.try_read("libtorch_version", value) && value.isString()) {
      written_by = " (written with LibTorch " + value.toStringRef() + ")";
    }
    throw CheckpointError(where + " has format version " + std::to_string(version) + written_by +
                          "; this build (LibTorch " + TORCH_VERSION + ") reads up to version " +
                          std::to_string(kFormatVersion) + "; upgrade trainer");
  }
  if (version >= 2 && !file.has_checksum) {
    throw CheckpointError(where + " has format version " + std::to_string(version) +
                          " but no checksum trailer; the end of the file was cut off or altered");
  }
  if (!file.has_checksum) spdlog::warn("{} has no checksum (format version {}); it is not verified", where, version);
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
  if (archive.try_read("parameter_dtype", value)) {
    for (const at::ScalarType dtype : {at::kFloat, at::kDouble, at::kBFloat16, at::kHalf}) {
      if (value.toStringRef() == c10::toString(dtype)) info.parameter_dtype = dtype;
    }
  }
  if (archive.try_read("epoch_metrics", value)) {
    for (const auto& entry : value.toGenericDict()) {
      info.epoch_metrics[entry.key().toStringRef()] = entry.value().toDouble();
    }
  }
  if (archive.try_read("grad_scaler", value)) {
    for (const auto& entry : value.toGenericDict()) {
      info.grad_scaler[entry.key().toStringRef()] = entry.value().toDouble();
    }
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

void check_model_class(const CheckpointInfo& info, const std::string& path, const std::string& model_class) {
  if (info.model_class != model_class) {
    throw CheckpointError("checkpoint '" + path + "' contains a '" + info.model_class +
                          "' model but the config requests '" + model_class + "'");
  }
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  torch::serialize::InputArchive archive;
  return read_info(path, archive);
}

void verify_checkpoint(const std::string& path) {
  torch::serialize::InputArchive archive;
  read_info(path, archive);
  torch::serialize::InputArchive model_archive;
  if (!archive.try_read("model", model_archive)) {
    throw CheckpointError("checkpoint '" + path + "' contains no model record");
  }
}

void check_free_space(const std::string& folder, uint64_t checkpoint_bytes) {
  namespace fs = std::filesystem;
  // The run folder may not exist yet: check the nearest existing ancestor, where it
  // will be created, and create nothing here.
  fs::path existing = fs::absolute(folder);
  std::error_code error;
  while (!fs::exists(existing, error) && existing.has_parent_path() && existing != existing.parent_path()) {
    existing = existing.parent_path();
  }
  if (!fs::is_directory(existing, error)) {
    throw CheckpointError("the run directory '" + folder + "' cannot be created: '" + existing.string() +
                          "' is not a folder; set trainer.default_root_dir to a writable folder");
  }
  if (::access(existing.c_str(), W_OK | X_OK) != 0) {
    throw CheckpointError("the run directory '" + folder + "' cannot be written: '" + existing.string() +
                          "' is not writable by this user; set trainer.default_root_dir to a writable folder");
  }
  struct statvfs stats;
  if (::statvfs(existing.c_str(), &stats) != 0) return;  // unknown: the writes will report a full disk
  const uint64_t free_bytes = static_cast<uint64_t>(stats.f_bavail) * stats.f_frsize;
  // Two checkpoints: the previous one stays until its replacement is complete.
  const uint64_t needed = 2 * checkpoint_bytes;
  if (free_bytes < needed) {
    throw CheckpointError("not enough free space for checkpoints under '" + existing.string() + "': " +
                          std::to_string(free_bytes >> 20) + " MiB free, about " + std::to_string(needed >> 20) +
                          " MiB needed for two checkpoints; free space or set trainer.default_root_dir elsewhere");
  }
}

CheckpointInfo load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                               const std::function<void(const CheckpointInfo&)>& before_load) {
  const std::string where = "checkpoint '" + path + "'";
  torch::serialize::InputArchive archive;
  const CheckpointInfo info = read_info(path, archive);
  if (before_load) before_load(info);

  // Module::load copies the stored bytes into each tensor without converting them, so
  // the model first takes the file's dtype: a float64 file read into float32 tensors
  // would give garbage, not an error.
  const c10::optional<at::ScalarType> model_dtype = floating_dtype(model);
  if (info.parameter_dtype && model_dtype && *info.parameter_dtype != *model_dtype) {
    if (optimizer != nullptr) {
      throw CheckpointError(where + " stores " + dtype_name(*info.parameter_dtype) + " parameters but the model is " +
                            dtype_name(*model_dtype) + " (trainer.precision differs); resume with the precision "
                            "the checkpoint was trained with, because its optimizer state has that dtype");
    }
    accelerator::convert_floating_tensors(model, *info.parameter_dtype);
  }

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
      throw CheckpointError(where + " contains no optimizer state, so training cannot resume from it");
    }
    try {
      optimizer->load(optimizer_archive);
    } catch (const c10::Error& error) {
      throw CheckpointError(where + " contains optimizer state that does not match the configured optimizer: " +
                            c10_message(error));
    }
  }
  return info;
}

std::string resolve_checkpoint_path(const std::string& ckpt_path, const std::string& root, const std::string& run_name) {
  if (ckpt_path != "last") return ckpt_path;
  namespace fs = std::filesystem;
  const fs::path group = fs::path(root) / run_name;

  // Candidates newest first: every version's last.ckpt, then every other *.ckpt.
  struct Candidate {
    fs::path path;
    fs::file_time_type time;
    bool is_last;
  };
  std::vector<Candidate> candidates;
  std::error_code error;
  for (const auto& version : fs::directory_iterator(group, error)) {
    for (const auto& entry : fs::directory_iterator(version.path() / "checkpoints", error)) {
      if (!entry.is_regular_file(error) || entry.path().extension() != ".ckpt") continue;
      const auto time = fs::last_write_time(entry.path(), error);
      if (!error) candidates.push_back({entry.path(), time, entry.path().filename() == "last.ckpt"});
    }
  }
  if (candidates.empty()) {
    throw CheckpointError("--ckpt_path last: no checkpoints/last.ckpt under '" + group.string() +
                          "'; run fit first or pass a checkpoint path");
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.is_last != b.is_last) return a.is_last;
    return a.time > b.time;
  });

  std::string rejected;
  for (const Candidate& candidate : candidates) {
    try {
      verify_checkpoint(candidate.path.string());
    } catch (const CheckpointError& reason) {
      spdlog::warn("--ckpt_path last: skipping {}", reason.what());
      rejected += std::string(rejected.empty() ? "" : "; ") + reason.what();
      continue;
    }
    if (!rejected.empty()) spdlog::warn("--ckpt_path last: falling back to '{}'", candidate.path.string());
    return candidate.path.string();
  }
  throw CheckpointError("--ckpt_path last: no valid checkpoint under '" + group.string() + "': " + rejected);
}

}  // namespace trainer
