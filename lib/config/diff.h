#pragma once
/// Comparing two resolved configs key by key.

#include <string>
#include <vector>

#include "config/node.h"

namespace trainer::config {

/// Returns the dotted leaf keys whose values differ between `before` and `after`,
/// including keys present in only one of them, in `after`'s order then `before`'s.
std::vector<std::string> changed_keys(const Node& before, const Node& after);

}  // namespace trainer::config
