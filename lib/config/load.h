#pragma once
/// Loading an experiment config: files merged in order, then command-line overrides,
/// then one checking pass that reports every problem at once.

#include <string>
#include <vector>

#include "config/fields.h"
#include "config/node.h"
#include "config/settings.h"

namespace trainer::config {

/// One dotted command-line override such as `--trainer.max_epochs=5`.
struct Override {
  std::string key;    ///< "trainer.max_epochs"
  std::string value;  ///< YAML text: "5", "[16, 32]", "cnn"
};

/// Parses `--key=value` and `--key value` pairs. Throws UsageError on a stray token.
std::vector<Override> parse_override_args(const std::vector<std::string>& args);

struct LoadedConfig {
  ExperimentSettings settings;
  Node merged;  ///< the merged sources, each value with its origin
};

/// Merges `files` in order, applies `overrides`, substitutes `${env:NAME}` and
/// `${env:NAME,default}`, and reads the result into settings, checking every key
/// and type against the schema. Throws ConfigError listing every problem found.
LoadedConfig load_config(const std::vector<std::string>& files, const std::vector<Override>& overrides,
                         const Catalog& catalog);

/// Reads an already merged tree into settings; used by load_config and by tests.
ExperimentSettings read_settings(const Node& merged, const Catalog& catalog);

/// Returns the settings as a YAML tree with every field, in schema order.
Node settings_to_node(ExperimentSettings& settings);

/// Returns the settings as YAML text that loads back into equal settings.
std::string settings_to_yaml(ExperimentSettings& settings);

/// Formats a double so that it reads back to the same value and looks like a float ("1.0").
std::string format_double(double value);

}  // namespace trainer::config
