#include "accelerator/precision.h"

#include <c10/core/Device.h>

#include <stdexcept>

#include "core/errors.h"

namespace trainer::accelerator {

PrecisionPolicy resolve_precision(const std::string& precision, c10::DeviceType device_type) {
  PrecisionPolicy policy;
  if (precision == "32" || precision == "32-true") return policy;
  if (precision == "64" || precision == "64-true") {
    policy.dtype = at::kDouble;
    return policy;
  }
  if (precision == "bf16-true") {
    policy.dtype = at::kBFloat16;
    return policy;
  }
  if (precision == "bf16-mixed") {
    policy.autocast = true;
    policy.autocast_dtype = at::kBFloat16;
    return policy;
  }
  if (precision == "16-mixed") {
    if (device_type != c10::DeviceType::CUDA) {
      // LibTorch 1.13's CPU autocast supports bfloat16 only, so float16 autocast is CUDA's.
      throw DeviceError("trainer.precision '16-mixed' needs a CUDA device, but this run is on '" +
                        c10::DeviceTypeName(device_type, /*lower_case=*/true) +
                        "'; use --trainer.precision=bf16-mixed for mixed precision on the CPU");
    }
    policy.autocast = true;
    policy.autocast_dtype = at::kHalf;
    // float16 has 5 exponent bits, so small gradients underflow to zero without a loss scale.
    policy.grad_scaler = true;
    return policy;
  }
  throw std::invalid_argument("unknown precision '" + precision + "'");
}

}  // namespace trainer::accelerator
