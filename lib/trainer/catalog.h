#pragma once
/// The config catalog backed by the model, dataset and optimizer registries.

#include "config/fields.h"

namespace trainer {

/// Lists and instantiates the components registered in the registries.
class RegistryCatalog : public config::Catalog {
 public:
  std::vector<std::string> names(config::ComponentKind kind) const override;
  std::unique_ptr<config::Args> make_args(config::ComponentKind kind, const std::string& name) const override;
};

}  // namespace trainer
