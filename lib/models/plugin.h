#pragma once
/// Registering a model class, for built-in models and for C++ plug-ins linked into
/// their own `trainer` binary (see examples/plugin_model).
///
/// A model class `M` has a constructor `M(const A& args, const data::DataSpec& spec)`,
/// where `A` is its init_args struct: it derives from ModelArgs and lists its fields in
/// `visit()`. One line at namespace scope in any source file of the binary registers it:
///
///     TRAINER_REGISTER_MODEL("my_model", MyModel, MyArgs, "One line for the model list");
///
/// after which `model.class_path: my_model` selects it. Registering a name again
/// replaces the earlier entry, built-in ones included.

#include <memory>
#include <string>
#include <type_traits>

#include "models/init.h"
#include "models/model.h"

namespace trainer::models {

/// Adds `ModelT` with init_args `ArgsT` to `registry` under `name`. The model is
/// built inside an InitSeedScope of `args.init_seed`.
template <class ModelT, class ArgsT>
void add_model(ModelRegistry& registry, const std::string& name, std::string summary) {
  static_assert(std::is_base_of_v<Model, ModelT>, "a registered model class must derive from trainer::models::Model");
  static_assert(std::is_base_of_v<ModelArgs, ArgsT>, "init_args structs must derive from trainer::models::ModelArgs");
  registry.add<ArgsT>(name, std::move(summary),
                      [](const ArgsT& args, const data::DataSpec& spec) -> std::shared_ptr<Model> {
                        InitSeedScope seed_scope(args.init_seed);
                        return std::make_shared<ModelT>(args, spec);
                      });
}

/// Adds `ModelT` to the process-wide model registry; returns true so that it can
/// initialise a static variable (see TRAINER_REGISTER_MODEL).
template <class ModelT, class ArgsT>
bool register_model(const std::string& name, std::string summary) {
  add_model<ModelT, ArgsT>(model_registry(), name, std::move(summary));
  return true;
}

}  // namespace trainer::models

#define TRAINER_MODELS_CONCAT_INNER(a, b) a##b
#define TRAINER_MODELS_CONCAT(a, b) TRAINER_MODELS_CONCAT_INNER(a, b)

/// Registers a model class while the program starts. Use it in a source file that is
/// linked into the executable directly: a static library drops object files that
/// nothing references, and their registrations with them.
#define TRAINER_REGISTER_MODEL(NAME, MODEL_CLASS, ARGS_CLASS, SUMMARY)                                     \
  [[maybe_unused]] static const bool TRAINER_MODELS_CONCAT(trainer_registered_model_, __LINE__) =          \
      ::trainer::models::register_model<MODEL_CLASS, ARGS_CLASS>(NAME, SUMMARY)
