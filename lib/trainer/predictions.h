#pragma once
/// Writing predictions: CSV for reading, NumPy .npy for Python.

#include <ATen/core/Tensor.h>

#include <string>

#include "core/task.h"

namespace trainer {

/// Writes one row per sample: index, target, then the prediction. Classification rows
/// hold the class index and one probability column per class; regression rows hold the
/// outputs; next-token rows hold the predicted token ids separated by spaces.
void write_predictions_csv(const std::string& path, Task task, const at::Tensor& outputs, const at::Tensor& targets);

/// Writes `tensor` (float32, float64, int64 or uint8, C order) in NumPy's .npy format.
void write_npy(const std::string& path, const at::Tensor& tensor);

}  // namespace trainer
