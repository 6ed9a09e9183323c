#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace trainer::data {

/// Model inputs and targets of one batch, batch dimension first.
struct Batch {
  at::Tensor inputs;
  at::Tensor targets;

  int64_t size() const { return targets.size(0); }
};

}  // namespace trainer::data
