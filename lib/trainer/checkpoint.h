#pragma once
/// Checkpoint files: model and optimizer state plus the loop position, written atomically.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace trainer {

/// Everything but the model and optimizer tensors: where the loop stood, the state of
/// the scheduler, callbacks and random generator, and what produced the file.
struct CheckpointInfo {
  int64_t epoch = 0;           ///< epoch to resume in, from 0 (= epochs completed when batch_in_epoch is 0)
  int64_t batch_in_epoch = 0;  ///< training batches of that epoch already done
  int64_t global_step = 0;     ///< optimizer steps completed
  std::string model_class;     ///< model.class_path, checked on load
  std::string config_yaml;     ///< the resolved config of the run that wrote it
  std::map<std::string, double> scheduler;                  ///< LrScheduler::state(); empty without one
  std::map<std::string, double> grad_scaler;                ///< GradScaler::state() of '16-mixed'; else empty
  std::map<std::string, double> epoch_metrics;  ///< train/ metrics accumulated so far in an unfinished epoch
  std::vector<std::map<std::string, std::string>> callbacks;  ///< Callback::state() of each, in config order
  std::map<std::string, at::Tensor> data;                   ///< DataConnector state (statistics, vocabulary)
  at::Tensor rng_cpu;          ///< CPU generator state; undefined when not saved
  /// dtype of the model's floating-point tensors in the file (float32, float64 or bfloat16,
  /// from trainer.precision); save_checkpoint fills it from the model. Files written
  /// before it existed read as undefined.
  c10::optional<at::ScalarType> parameter_dtype;
};

/// Writes `model`, `optimizer` (may be null) and `info` to `path` through a temporary
/// file, so `path` always holds either the previous or the new complete checkpoint.
/// The file is LibTorch's zip archive followed by a 24-byte trailer with the archive's
/// length and CRC-32, which loading verifies.
void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const CheckpointInfo& info);

/// Throws CheckpointError when the checkpoint at `path` contains a model other than
/// `model_class`, the class the config requests.
void check_model_class(const CheckpointInfo& info, const std::string& path, const std::string& model_class);

/// Reads a checkpoint's info (loop position, states, config) without loading tensors
/// into a model. Throws CheckpointError like load_checkpoint.
CheckpointInfo read_checkpoint_info(const std::string& path);

/// Loads a checkpoint into `model` and, when not null, `optimizer`; returns its info.
/// The model's floating-point tensors take the file's dtype, so a caller that wants the
/// configured precision converts them afterwards (AcceleratorConnector::prepare). With
/// an optimizer (a resume), a dtype other than the model's is a CheckpointError, because
/// the optimizer state would not match.
/// `before_load`, when given, sees the info before any tensor is loaded and may throw.
/// Throws CheckpointError naming the file when it is missing, not a checkpoint, or
/// does not match the model.
CheckpointInfo load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                               const std::function<void(const CheckpointInfo&)>& before_load = {});

/// Checks that `path` is a complete checkpoint: its checksum (when it has one), its
/// format record and version, and a model record. Throws CheckpointError saying what
/// is wrong.
void verify_checkpoint(const std::string& path);

/// Checks, before fit creates anything, that the run directory `folder` (or the nearest
/// existing folder above it) is writable and has room for two checkpoints of
/// `checkpoint_bytes`. Throws CheckpointError.
void check_free_space(const std::string& folder, uint64_t checkpoint_bytes);

/// Resolves `--ckpt_path`: a file path as given, or "last" for the newest valid
/// checkpoint under `<root>/<run_name>/version_*/checkpoints/`: the newest last.ckpt
/// first, then the other last.ckpt and *.ckpt files newest first, each rejected one
/// logged as a warning with the reason. Throws CheckpointError when none is valid.
std::string resolve_checkpoint_path(const std::string& ckpt_path, const std::string& root,
                                    const std::string& run_name);

}  // namespace trainer
