#include "models/task.h"

#include <ATen/Functions.h>

#include <cmath>

#include "core/errors.h"

namespace trainer {

const char* task_name(Task task) {
  switch (task) {
    case Task::classification: return "classification";
    case Task::regression: return "regression";
    case Task::next_token: return "next_token";
  }
  return "unknown";
}

}  // namespace trainer

namespace trainer::models {

StepOutput compute_task_loss(Task task, const at::Tensor& outputs, const at::Tensor& targets, bool with_metrics) {
  at::Tensor predictions = outputs;
  if (predictions.scalar_type() == at::kBFloat16 || predictions.scalar_type() == at::kHalf) {
    predictions = predictions.to(at::kFloat);  // the loss is computed in full precision under autocast
  }

  StepOutput out;
  switch (task) {
    case Task::classification: {
      out.loss = at::cross_entropy_loss(predictions, targets);
      out.count = targets.size(0);
      if (with_metrics) {
        out.metric_sums.emplace_back("loss", out.loss.detach().mul(static_cast<double>(out.count)));
        out.metric_sums.emplace_back("acc", predictions.argmax(1).eq(targets).sum());
      }
      break;
    }
    case Task::regression: {
      if (predictions.sizes() != targets.sizes()) {
        throw UsageError("regression outputs have shape " + std::string(c10::str(predictions.sizes())) +
                         " but targets have shape " + std::string(c10::str(targets.sizes())) +
                         "; make the model's output size match the number of target columns");
      }
      out.loss = at::mse_loss(predictions, targets.to(predictions.scalar_type()));
      out.count = targets.size(0);
      if (with_metrics) out.metric_sums.emplace_back("loss", out.loss.detach().mul(static_cast<double>(out.count)));
      break;
    }
    case Task::next_token: {
      // outputs: (batch, time, vocabulary); targets: (batch, time)
      const int64_t vocabulary = predictions.size(-1);
      out.loss = at::cross_entropy_loss(predictions.reshape({-1, vocabulary}), targets.reshape({-1}));
      out.count = targets.numel();
      if (with_metrics) out.metric_sums.emplace_back("loss", out.loss.detach().mul(static_cast<double>(out.count)));
      break;
    }
  }
  return out;
}

void add_derived_metrics(Task task, const std::string& stage, logging::Metrics& metrics) {
  const double loss = logging::find_metric(metrics, stage + "/loss");
  if (std::isnan(loss)) return;
  if (task == Task::regression) metrics.emplace_back(stage + "/rmse", std::sqrt(loss));
  if (task == Task::next_token) metrics.emplace_back(stage + "/perplexity", std::exp(loss));
}

}  // namespace trainer::models
