#include "models/model.h"

namespace trainer::models {

void register_mlp(ModelRegistry& registry);
void register_cnn(ModelRegistry& registry);

ModelRegistry& model_registry() {
  static ModelRegistry registry = [] {
    ModelRegistry built_in;
    register_mlp(built_in);
    register_cnn(built_in);
    return built_in;
  }();
  return registry;
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const at::Tensor& parameter : module.parameters()) count += parameter.numel();
  return count;
}

}  // namespace trainer::models
