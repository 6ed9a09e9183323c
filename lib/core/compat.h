#pragma once
/// The differences between the LibTorch versions we build against (Debian's 1.13
/// and the container's 2.x) live here, so the rest of the code has no version checks.

#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/csrc/api/include/torch/version.h>

namespace trainer::compat {

/// Turns autocast on or off for `device_type` (CPU or CUDA) with the given dtype.
inline void set_autocast(c10::DeviceType device_type, bool enabled, at::ScalarType dtype) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
  // 2.4 replaced the per-device setters with ones that take the device type.
  at::autocast::set_autocast_enabled(device_type, enabled);
  if (enabled) at::autocast::set_autocast_dtype(device_type, dtype);
#else
  if (device_type == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(enabled);
    if (enabled) at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    if (enabled) at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
  if (!enabled) at::autocast::clear_cache();
}

}  // namespace trainer::compat
