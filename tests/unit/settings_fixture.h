#pragma once
// Builds real settings from YAML text through the real registries.

#include <string>

#include "config/load.h"
#include "trainer/catalog.h"

namespace trainer::testing {

/// Reads `yaml` (a whole experiment config) with the built-in component catalog.
inline config::ExperimentSettings settings_from_yaml(const std::string& yaml) {
  return config::read_settings(config::parse_yaml(yaml, "test.yaml", false), RegistryCatalog());
}

/// A config training on the tiny dataset written by write_tiny_mnist into `root`.
inline std::string tiny_config(const std::string& root, const std::string& model = "mlp") {
  return "model:\n  class_path: " + model +
         "\n"
         "data:\n  class_path: mnist\n  init_args:\n    root: " +
         root + "\n    batch_size: 8\n    val_size: 20\n";
}

}  // namespace trainer::testing
