#pragma once
/// `trainer explain KEY`: a key's final value and every source that set it.

#include <string>

#include "config/load.h"

namespace trainer::config {

/// Describes the final value of `dotted_key` and where it came from: a file and
/// position, the command line, an environment variable, or the built-in default,
/// followed by the values it replaced. Throws ConfigError for an unknown key.
std::string explain_key(LoadedConfig& loaded, const std::string& dotted_key);

/// Lists every leaf key of the settings as dotted paths, in schema order.
std::vector<std::string> leaf_keys(const Node& resolved);

}  // namespace trainer::config
