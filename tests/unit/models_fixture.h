#pragma once
// Helpers of the model tests: build a registered model from YAML for a given data
// spec, and train it on one fixed batch.

#include <ATen/Functions.h>
#include <torch/optim/adam.h>

#include <string>
#include <utility>

#include "models/model.h"
#include "settings_fixture.h"

namespace trainer::testing {

/// Builds the model that `yaml` (an experiment config) configures, sized for `spec`.
inline std::shared_ptr<models::Model> build_model(const std::string& yaml, const data::DataSpec& spec) {
  const auto settings = settings_from_yaml(yaml);
  return models::build_model(settings.model, spec);
}

/// Trains `model` with Adam on one fixed batch through Model::step (its own loss) and
/// returns the loss of the first and of the last of `steps` steps.
inline std::pair<double, double> train_on_batch(models::Model& model, const data::Batch& batch, int steps,
                                                double lr = 1e-3) {
  model.train();
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(lr));
  double first = 0;
  double last = 0;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    const at::Tensor loss = model.step(batch, /*with_metrics=*/false).loss;
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    optimizer.step();
  }
  return {first, last};
}

}  // namespace trainer::testing
