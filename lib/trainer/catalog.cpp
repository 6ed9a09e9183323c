#include "trainer/catalog.h"

#include "data/dataset.h"
#include "logging/logger_registry.h"
#include "models/model.h"
#include "optim/optimizers.h"
#include "optim/schedulers.h"
#include "trainer/callbacks/callback.h"

namespace trainer {
namespace {

template <class RegistryT>
std::unique_ptr<config::Args> make_from(const RegistryT& registry, const std::string& name) {
  const auto* entry = registry.find(name);
  return entry == nullptr ? nullptr : entry->make_args();
}

}  // namespace

std::vector<std::string> RegistryCatalog::names(config::ComponentKind kind) const {
  switch (kind) {
    case config::ComponentKind::model: return models::model_registry().names();
    case config::ComponentKind::data: return data::data_registry().names();
    case config::ComponentKind::optimizer: return optim::optimizer_registry().names();
    case config::ComponentKind::lr_scheduler: return optim::scheduler_registry().names();
    case config::ComponentKind::callback: return callbacks::callback_registry().names();
    case config::ComponentKind::logger: return logging::logger_registry().names();
  }
  return {};
}

std::unique_ptr<config::Args> RegistryCatalog::make_args(config::ComponentKind kind, const std::string& name) const {
  switch (kind) {
    case config::ComponentKind::model: return make_from(models::model_registry(), name);
    case config::ComponentKind::data: return make_from(data::data_registry(), name);
    case config::ComponentKind::optimizer: return make_from(optim::optimizer_registry(), name);
    case config::ComponentKind::lr_scheduler: return make_from(optim::scheduler_registry(), name);
    case config::ComponentKind::callback: return make_from(callbacks::callback_registry(), name);
    case config::ComponentKind::logger: return make_from(logging::logger_registry(), name);
  }
  return nullptr;
}

}  // namespace trainer
