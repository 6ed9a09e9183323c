#include "config/node.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "config/problems.h"

namespace trainer::config {
namespace {

Origin origin_of(const YAML::Mark& mark, const std::string& source, bool is_file) {
  Origin origin{source, 0, 0, is_file};
  if (is_file && mark.line >= 0) {
    origin.line = mark.line + 1;
    origin.column = mark.column + 1;
  }
  return origin;
}

Node convert(const YAML::Node& yaml, const std::string& source, bool is_file) {
  Node node;
  node.origin = origin_of(yaml.Mark(), source, is_file);
  switch (yaml.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      node.kind = Node::Kind::null;
      break;
    case YAML::NodeType::Scalar:
      node.kind = Node::Kind::scalar;
      node.text = yaml.Scalar();
      // yaml-cpp tags quoted scalars "!" and plain ones "?".
      node.quoted = yaml.Tag() == "!";
      break;
    case YAML::NodeType::Sequence:
      node.kind = Node::Kind::sequence;
      for (const YAML::Node& item : yaml) node.items.push_back(convert(item, source, is_file));
      break;
    case YAML::NodeType::Map:
      node.kind = Node::Kind::map;
      for (auto it = yaml.begin(); it != yaml.end(); ++it) {
        const Origin key_origin = origin_of(it->first.Mark(), source, is_file);
        if (!it->first.IsScalar()) {
          throw ConfigError({{key_origin, "", "map keys must be plain names"}});
        }
        const std::string key = it->first.Scalar();
        if (node.find(key) != nullptr) {
          throw ConfigError({{key_origin, key, "duplicate key; each key may appear once in a map"}});
        }
        Node value = convert(it->second, source, is_file);
        // A key with no value has no mark of its own; point at the key instead.
        if (value.is_null()) value.origin = key_origin;
        value.key_origin = key_origin;
        node.entries.emplace_back(key, std::move(value));
      }
      break;
  }
  return node;
}

void emit(YAML::Emitter& out, const Node& node) {
  switch (node.kind) {
    case Node::Kind::null:
      out << YAML::Null;
      break;
    case Node::Kind::scalar:
      if (node.quoted) {
        out << YAML::DoubleQuoted << node.text;
      } else {
        out << node.text;
      }
      break;
    case Node::Kind::sequence: {
      // Short lists of scalars read best inline: [32, 64].
      bool all_scalars = true;
      for (const Node& item : node.items) all_scalars = all_scalars && item.is_scalar();
      if (all_scalars) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const Node& item : node.items) emit(out, item);
      out << YAML::EndSeq;
      break;
    }
    case Node::Kind::map:
      if (node.entries.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& [key, value] : node.entries) {
        out << YAML::Key << key << YAML::Value;
        emit(out, value);
      }
      out << YAML::EndMap;
      break;
  }
}

std::vector<std::string> split_dotted(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(path);
  while (std::getline(stream, part, '.')) parts.push_back(part);
  return parts;
}

}  // namespace

const Node* Node::find(const std::string& key) const {
  for (const auto& entry : entries) {
    if (entry.first == key) return &entry.second;
  }
  return nullptr;
}

Node* Node::find(const std::string& key) {
  for (auto& entry : entries) {
    if (entry.first == key) return &entry.second;
  }
  return nullptr;
}

Node& Node::at_or_insert(const std::string& key) {
  if (Node* existing = find(key)) return *existing;
  kind = Kind::map;
  entries.emplace_back(key, Node{});
  return entries.back().second;
}

void Node::erase(const std::string& key) {
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->first == key) {
      entries.erase(it);
      return;
    }
  }
}

Node Node::scalar(std::string text, Origin origin, bool quoted) {
  Node node;
  node.kind = Kind::scalar;
  node.text = std::move(text);
  node.quoted = quoted;
  node.origin = std::move(origin);
  return node;
}

Node parse_yaml(const std::string& text, const std::string& source, bool is_file) {
  YAML::Node yaml;
  try {
    yaml = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    throw ConfigError({{origin_of(error.mark, source, is_file), "", "invalid YAML: " + error.msg}});
  }
  return convert(yaml, source, is_file);
}

Node load_yaml_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ConfigError({{Origin{path, 0, 0, true}, "", "cannot open config file (does it exist and is it readable?)"}});
  }
  std::ostringstream text;
  text << file.rdbuf();
  Node root = parse_yaml(text.str(), path, true);
  if (root.is_null()) {
    root.kind = Node::Kind::map;  // an empty file is an empty config
  } else if (!root.is_map()) {
    throw ConfigError({{root.origin, "", "a config file must be a map of sections such as 'trainer:' and 'model:'"}});
  }
  return root;
}

void merge_into(Node& base, const Node& overlay) {
  const bool base_is_component = base.is_map() && base.find("class_path") != nullptr;
  if (base_is_component && overlay.is_scalar()) {
    Node shorthand;
    shorthand.kind = Node::Kind::map;
    shorthand.origin = overlay.origin;
    shorthand.entries.emplace_back("class_path", overlay);
    merge_into(base, shorthand);
    return;
  }
  if (!base.is_map() || !overlay.is_map()) {
    // Keep what was replaced, so `trainer explain` can show the whole chain.
    std::vector<std::pair<std::string, Origin>> replaced = base.replaced;
    if (base.is_scalar()) replaced.emplace_back(base.text, base.origin);
    base = overlay;
    base.replaced.insert(base.replaced.begin(), replaced.begin(), replaced.end());
    return;
  }

  const Node* old_class = base.find("class_path");
  const Node* new_class = overlay.find("class_path");
  if (old_class != nullptr && new_class != nullptr && old_class->text != new_class->text) {
    base.erase("init_args");  // arguments of the old class mean nothing to the new one
  }
  for (const auto& [key, value] : overlay.entries) {
    Node* existing = base.find(key);
    if (existing == nullptr) {
      base.entries.emplace_back(key, value);
    } else {
      merge_into(*existing, value);
    }
  }
}

void set_path(Node& root, const std::string& dotted_path, const Node& value) {
  const std::vector<std::string> parts = split_dotted(dotted_path);
  Node overlay = value;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    Node parent;
    parent.kind = Node::Kind::map;
    parent.origin = value.origin;
    parent.entries.emplace_back(*it, std::move(overlay));
    overlay = std::move(parent);
  }
  if (root.is_null()) root.kind = Node::Kind::map;
  merge_into(root, overlay);
}

const Node* find_path(const Node& root, const std::string& dotted_path) {
  const Node* node = &root;
  for (const std::string& part : split_dotted(dotted_path)) {
    node = node->is_map() ? node->find(part) : nullptr;
    if (node == nullptr) return nullptr;
  }
  return node;
}

std::string to_yaml(const Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, node);
  return std::string(out.c_str()) + "\n";
}

}  // namespace trainer::config
