// Test helper: prints the largest absolute difference between the parameters of two
// checkpoints' models (rebuilt from the configs saved in them), and the largest parameter
// magnitude for scale. Exits 1 when the models' parameter lists differ in shape.
//
// Usage: checkpoint_diff CKPT_A CKPT_B

#include <ATen/Functions.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <iostream>

#include "app/commands.h"
#include "models/model.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: checkpoint_diff CKPT_A CKPT_B\n";
    return 2;
  }
  try {
    const trainer::app::CheckpointModel a = trainer::app::load_checkpoint_model({}, argv[1]);
    const trainer::app::CheckpointModel b = trainer::app::load_checkpoint_model({}, argv[2]);
    const auto params_a = a.model->parameters();
    const auto params_b = b.model->parameters();
    if (params_a.size() != params_b.size()) {
      std::cerr << "checkpoint_diff: " << params_a.size() << " vs " << params_b.size() << " parameters\n";
      return 1;
    }
    double max_diff = 0;
    double max_abs = 0;
    for (size_t i = 0; i < params_a.size(); ++i) {
      if (!params_a[i].sizes().equals(params_b[i].sizes())) {
        std::cerr << "checkpoint_diff: parameter " << i << " has shape " << params_a[i].sizes() << " vs "
                  << params_b[i].sizes() << "\n";
        return 1;
      }
      max_diff = std::max(max_diff, (params_a[i] - params_b[i]).abs().max().item<double>());
      max_abs = std::max(max_abs, params_a[i].abs().max().item<double>());
    }
    std::cout << "max_abs_diff=" << max_diff << " max_abs=" << max_abs << std::endl;
  } catch (const std::exception& error) {
    std::cerr << "checkpoint_diff: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}
