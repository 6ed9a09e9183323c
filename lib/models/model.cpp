#include "models/model.h"

#include "core/errors.h"

namespace trainer::models {

void Model::save_torchscript(const std::string& path) {
  throw UsageError("cannot write '" + path + "': this is a C++ module, which LibTorch cannot convert to "
                   "TorchScript; export --format state_dict instead, or train a TorchScript model "
                   "(model.class_path: torchscript)");
}

void ModelArgs::visit_init(config::FieldVisitor& v) {
  v.field("init_seed", init_seed,
          {"Seed of the initial weights; -1 draws them from the run's seed_everything stream.", {}, -1});
}

std::shared_ptr<Model> build_model(const config::Component& model, const data::DataSpec& spec) {
  const ModelRegistry::Entry* entry = model_registry().find(model.class_path);
  if (entry == nullptr || !model.args) throw UsageError("unknown model '" + model.class_path + "'");
  return entry->build(*model.args, spec);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const at::Tensor& parameter : module.parameters()) count += parameter.numel();
  return count;
}

}  // namespace trainer::models
