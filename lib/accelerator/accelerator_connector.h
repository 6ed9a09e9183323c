#pragma once
/// AcceleratorConnector: owns the device, the precision policy and the CPU thread pool.
/// Built from AcceleratorSettings alone, without any reference to the Trainer.

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "accelerator/grad_scaler.h"
#include "accelerator/gradient_reducer.h"
#include "accelerator/precision.h"
#include "config/settings.h"

namespace torch::nn {
class Module;
}

namespace trainer::accelerator {

class ProcessGroup;

class AcceleratorConnector {
 public:
  /// Resolves 'auto' settings to a concrete device and applies the thread count and
  /// determinism switches. With strategy 'ddp' and a launcher's environment (see
  /// read_distributed_env), joins the c10d process group: Gloo on the CPU, NCCL on CUDA
  /// devices, each rank on device cuda:<id>, where id is the local rank's entry in
  /// trainer.devices when that lists ids, else the local rank itself. Throws DeviceError
  /// when the request cannot be met, and UsageError for invalid devices settings.
  explicit AcceleratorConnector(const config::AcceleratorSettings& settings);
  ~AcceleratorConnector();
  AcceleratorConnector(const AcceleratorConnector&) = delete;
  AcceleratorConnector& operator=(const AcceleratorConnector&) = delete;

  /// This process's rank and the number of processes; 0 and 1 without a process group.
  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  bool is_global_zero() const { return rank_ == 0; }
  /// The process group of a ddp run; null in a single-process run.
  ProcessGroup* process_group() const { return group_.get(); }

  const c10::Device& device() const { return device_; }
  /// dtype of parameters and inputs: float32, float64 for precision 64, bfloat16 for bf16-true.
  at::ScalarType dtype() const { return policy_.dtype; }
  /// Whether the forward pass runs under autocast (bf16-mixed, 16-mixed).
  bool mixed_precision() const { return policy_.autocast; }
  /// The dtype autocast casts to: bfloat16 for bf16-mixed, float16 for 16-mixed.
  at::ScalarType autocast_dtype() const { return policy_.autocast_dtype; }
  /// Whether backward needs dynamic loss scaling, which is true for 16-mixed only.
  bool needs_grad_scaler() const { return policy_.grad_scaler; }
  /// Returns the gradient reducer of a ddp run over `parameters`, with buckets of
  /// trainer.bucket_cap_mb; null in a single-process run.
  std::unique_ptr<GradientReducer> make_gradient_reducer(const std::vector<at::Tensor>& parameters) const;
  /// Returns a GradScaler with the default options, enabled when needs_grad_scaler().
  /// A disabled one is a no-op, so the Trainer may use it for every precision.
  GradScaler make_grad_scaler() const;
  int num_threads() const { return num_threads_; }
  /// Moves `module` to the device and its floating-point parameters and buffers to
  /// dtype(); integer buffers (BatchNorm's num_batches_tracked) keep their type, which
  /// Module::to(dtype) would not do.
  void prepare(torch::nn::Module& module) const;
  /// One line for the log, e.g. "device=cpu threads=2 precision=32".
  std::string describe() const;

  /// Enables autocast to `dtype` for the forward pass while alive, when precision is mixed.
  class AutocastScope {
   public:
    AutocastScope(c10::DeviceType device_type, bool enabled, at::ScalarType dtype);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

   private:
    c10::DeviceType device_type_;
    bool enabled_;
    at::ScalarType dtype_;
  };
  AutocastScope autocast() const { return AutocastScope(device_.type(), policy_.autocast, policy_.autocast_dtype); }

 private:
  c10::Device device_{c10::kCPU};
  PrecisionPolicy policy_;
  int num_threads_ = 1;
  std::string precision_;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
  std::unique_ptr<ProcessGroup> group_;
  int64_t bucket_cap_bytes_ = 0;
};

/// Returns the number of processes `settings` ask for on this machine: the devices count
/// (or the number of listed ids) with strategy 'ddp', else 1. Throws UsageError for an
/// invalid devices value.
int64_t requested_processes(const config::AcceleratorSettings& settings);

/// Throws what the AcceleratorConnector constructor would for the device, strategy and
/// precision settings, without taking a device or joining a process group. The ddp
/// launcher calls it, so a bad setting is reported once instead of by every rank.
void check_accelerator_settings(const config::AcceleratorSettings& settings);

/// Converts the floating-point parameters and buffers of `module` to `dtype` in place;
/// integer buffers (BatchNorm's num_batches_tracked) keep their type.
void convert_floating_tensors(torch::nn::Module& module, at::ScalarType dtype);

/// Seeds every random generator LibTorch has (CPU and, where present, CUDA).
void seed_everything(uint64_t seed);

}  // namespace trainer::accelerator
