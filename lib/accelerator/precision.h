#pragma once
/// The dtype, autocast and loss-scaling rules of each `trainer.precision` value.

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace trainer::accelerator {

/// The rules of one precision on one device type: the dtype of parameters and inputs,
/// and the autocast and loss scaling of the forward and backward pass.
struct PrecisionPolicy {
  at::ScalarType dtype = at::kFloat;  ///< dtype of parameters, floating buffers and floating inputs
  bool autocast = false;              ///< whether the forward pass runs under autocast
  at::ScalarType autocast_dtype = at::kBFloat16;  ///< the dtype autocast casts to, when enabled
  bool grad_scaler = false;  ///< whether backward needs dynamic loss scaling (float16 autocast)
};

/// Resolves `precision`, one of the trainer.precision choices, for `device_type`.
/// Throws DeviceError for '16-mixed' on any device but CUDA (LibTorch 1.13's CPU
/// autocast supports bfloat16 only; 2.x builds reject it too, so both behave alike),
/// and std::invalid_argument for a value outside the choices, which the config check
/// rejects first.
PrecisionPolicy resolve_precision(const std::string& precision, c10::DeviceType device_type);

}  // namespace trainer::accelerator
