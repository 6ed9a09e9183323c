#pragma once
/// AcceleratorConnector: owns the device, the precision policy and the CPU thread pool.
/// Built from AcceleratorSettings alone; it knows nothing of the Trainer.

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>

#include "config/settings.h"

namespace torch::nn {
class Module;
}

namespace trainer::accelerator {

class AcceleratorConnector {
 public:
  /// Resolves 'auto' settings to a concrete device and applies the thread count and
  /// determinism switches. Throws DeviceError when the request cannot be met.
  explicit AcceleratorConnector(const config::AcceleratorSettings& settings);

  const c10::Device& device() const { return device_; }
  /// dtype of parameters and inputs: float32, or float64 for precision 64.
  at::ScalarType dtype() const { return dtype_; }
  bool mixed_precision() const { return mixed_; }
  int num_threads() const { return num_threads_; }
  /// Moves `module` to the device and its floating-point parameters and buffers to
  /// dtype(); integer buffers (BatchNorm's num_batches_tracked) keep their type, which
  /// Module::to(dtype) would not do.
  void prepare(torch::nn::Module& module) const;
  /// One line for the log, e.g. "device=cpu threads=2 precision=32".
  std::string describe() const;

  /// Enables autocast for the forward pass while alive, when precision is mixed.
  class AutocastScope {
   public:
    AutocastScope(c10::DeviceType device_type, bool enabled);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

   private:
    c10::DeviceType device_type_;
    bool enabled_;
  };
  AutocastScope autocast() const { return AutocastScope(device_.type(), mixed_); }

 private:
  c10::Device device_{c10::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  bool mixed_ = false;
  int num_threads_ = 1;
  std::string precision_;
};

/// Seeds every random generator LibTorch has (CPU and, where present, CUDA).
void seed_everything(uint64_t seed);

}  // namespace trainer::accelerator
