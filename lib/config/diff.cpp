#include "config/diff.h"

#include <algorithm>

#include "config/explain.h"

namespace trainer::config {

std::vector<std::string> changed_keys(const Node& before, const Node& after) {
  std::vector<std::string> keys = leaf_keys(after);
  for (const std::string& key : leaf_keys(before)) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  std::vector<std::string> changed;
  for (const std::string& key : keys) {
    const Node* a = find_path(before, key);
    const Node* b = find_path(after, key);
    const std::string text_a = a == nullptr ? "<absent>" : to_yaml(*a);
    const std::string text_b = b == nullptr ? "<absent>" : to_yaml(*b);
    if (text_a != text_b) changed.push_back(key);
  }
  return changed;
}

}  // namespace trainer::config
