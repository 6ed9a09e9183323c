#include "models/model.h"

namespace trainer::models {

void register_mlp(ModelRegistry& registry);
void register_cnn(ModelRegistry& registry);
void register_resnet(ModelRegistry& registry);
void register_gpt(ModelRegistry& registry);
void register_torchscript(ModelRegistry& registry);

ModelRegistry& model_registry() {
  static ModelRegistry registry = [] {
    ModelRegistry built_in;
    register_mlp(built_in);
    register_cnn(built_in);
    register_resnet(built_in);
    register_gpt(built_in);
    register_torchscript(built_in);
    return built_in;
  }();
  return registry;
}

}  // namespace trainer::models
