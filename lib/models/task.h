#pragma once
/// Loss and metrics of each task (see core/task.h).

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "core/task.h"
#include "logging/metrics.h"

namespace trainer::models {

/// Loss and metric sums of one batch.
struct StepOutput {
  at::Tensor loss;  ///< mean loss of the batch, for backward
  /// (name without stage prefix, sum over the batch's samples or tokens) pairs, for epoch means
  std::vector<std::pair<std::string, at::Tensor>> metric_sums;
  int64_t count = 0;  ///< samples (or tokens for next_token) the sums cover
};

/// Computes the task's loss from model `outputs` and `targets`; with `with_metrics`
/// also the sums of its metrics. Low-precision outputs are promoted to float32 first.
StepOutput compute_task_loss(Task task, const at::Tensor& outputs, const at::Tensor& targets, bool with_metrics);

/// Adds the metrics that are functions of epoch means: `<stage>/rmse` = sqrt(mean squared
/// error) for regression, `<stage>/perplexity` = exp(mean loss) for next_token.
void add_derived_metrics(Task task, const std::string& stage, logging::Metrics& metrics);

}  // namespace trainer::models
