#include "config/explain.h"

#include "config/problems.h"

namespace trainer::config {
namespace {

void collect_leaves(const Node& node, const std::string& prefix, std::vector<std::string>& keys) {
  if (!node.is_map() || node.entries.empty()) {
    keys.push_back(prefix);
    return;
  }
  for (const auto& [key, value] : node.entries) {
    collect_leaves(value, prefix.empty() ? key : prefix + "." + key, keys);
  }
}

std::string value_text(const Node& node) {
  if (node.is_scalar()) return node.text;
  std::string text = to_yaml(node);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return node.is_map() ? "\n" + text : text;
}

}  // namespace

std::vector<std::string> leaf_keys(const Node& resolved) {
  std::vector<std::string> keys;
  collect_leaves(resolved, "", keys);
  return keys;
}

std::string explain_key(LoadedConfig& loaded, const std::string& dotted_key) {
  const Node resolved = settings_to_node(loaded.settings);
  const Node* final_value = find_path(resolved, dotted_key);
  if (final_value == nullptr) {
    const std::vector<std::string> keys = leaf_keys(resolved);
    std::string message = "unknown key";
    const std::string match = closest_match(dotted_key, keys);
    message += match.empty() ? "; run 'trainer print-config' to list every key" : "; did you mean '" + match + "'?";
    throw ConfigError({{Origin{"command line", 0, 0, false}, dotted_key, message}});
  }

  std::string text = dotted_key + ": " + value_text(*final_value) + "\n";
  const Node* written = find_path(loaded.merged, dotted_key);
  if (written == nullptr) {
    return text + "  from     the built-in default\n";
  }
  text += "  from     " + written->origin.describe();
  if (!written->via.empty()) text += " via " + written->via;
  text += "\n";
  for (auto it = written->replaced.rbegin(); it != written->replaced.rend(); ++it) {
    text += "  replaced " + it->first + " from " + it->second.describe() + "\n";
  }
  return text;
}

}  // namespace trainer::config
