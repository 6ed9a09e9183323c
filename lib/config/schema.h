#pragma once
/// `trainer schema`: a JSON Schema of the whole config, for editors' checks and completion.

#include <string>

#include "config/fields.h"

namespace trainer::config {

/// Returns a JSON Schema (draft-07) describing every key, its type, range, choices,
/// default and help, with each component's init_args chosen by its class_path.
std::string config_json_schema(const Catalog& catalog);

/// Escapes `text` as a JSON string literal, quotes included.
std::string json_string(const std::string& text);

}  // namespace trainer::config
