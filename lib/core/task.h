#pragma once
/// Kind of prediction a model makes from a dataset. It decides the loss and the metrics logged.

namespace trainer {

enum class Task {
  classification,  ///< targets are class indices; loss cross-entropy; logs loss and acc
  regression,      ///< targets are real values shaped like the outputs; loss MSE; logs loss and rmse
  next_token,      ///< targets are token indices per position; loss cross-entropy; logs loss and perplexity
};

const char* task_name(Task task);

}  // namespace trainer
