// Writes settings back to YAML: the resolved config saved in every run directory.

#include <charconv>
#include <cmath>
#include <filesystem>

#include "config/load.h"

namespace trainer::config {
namespace {

class Writer : public FieldVisitor {
 public:
  explicit Writer(Node& out) : out_(out) { out_.kind = Node::Kind::map; }

  void field(std::string_view key, bool& value, const FieldDoc&) override { put(key, value ? "true" : "false"); }
  void field(std::string_view key, int64_t& value, const FieldDoc&) override { put(key, std::to_string(value)); }
  void field(std::string_view key, double& value, const FieldDoc&) override { put(key, format_double(value)); }
  void field(std::string_view key, std::string& value, const FieldDoc& doc) override {
    // Paths are saved absolute: a saved config reloads from any folder to the same files.
    std::string text = value;
    if (doc.is_path && !text.empty()) text = std::filesystem::absolute(text).lexically_normal().string();
    out_.entries.emplace_back(std::string(key), Node::scalar(std::move(text), origin(), true));
  }
  void field(std::string_view key, std::vector<int64_t>& value, const FieldDoc&) override {
    Node list = sequence();
    for (int64_t item : value) list.items.push_back(Node::scalar(std::to_string(item), origin()));
    out_.entries.emplace_back(std::string(key), std::move(list));
  }
  void field(std::string_view key, std::vector<double>& value, const FieldDoc&) override {
    Node list = sequence();
    for (double item : value) list.items.push_back(Node::scalar(format_double(item), origin()));
    out_.entries.emplace_back(std::string(key), std::move(list));
  }
  void field(std::string_view key, BatchLimit& value, const FieldDoc&) override {
    put(key, value.is_fraction ? format_double(value.value) : std::to_string(static_cast<int64_t>(value.value)));
  }
  void section(std::string_view key, const FieldDoc&, const std::function<void(FieldVisitor&)>& body) override {
    Node child;
    Writer writer(child);
    body(writer);
    out_.entries.emplace_back(std::string(key), std::move(child));
  }
  void field(std::string_view key, CountOrFlag& value, const FieldDoc&) override {
    put(key, std::to_string(value.value));
  }
  void component(std::string_view key, Component& value, ComponentKind, const FieldDoc&) override {
    out_.entries.emplace_back(std::string(key), component_node(value));
  }
  void component_list(std::string_view key, std::vector<Component>& value, ComponentKind, const FieldDoc&) override {
    Node list = sequence();
    for (Component& item : value) list.items.push_back(component_node(item));
    out_.entries.emplace_back(std::string(key), std::move(list));
  }

 private:
  static Origin origin() { return Origin{"resolved", 0, 0, false}; }
  static Node sequence() {
    Node list;
    list.kind = Node::Kind::sequence;
    return list;
  }
  static Node component_node(Component& value) {
    Node child;
    if (value.class_path.empty()) return child;  // an absent optional component is written as null
    child.kind = Node::Kind::map;
    child.entries.emplace_back("class_path", Node::scalar(value.class_path, origin()));
    Node args;
    Writer writer(args);
    if (value.args) value.args->visit(writer);
    child.entries.emplace_back("init_args", std::move(args));
    return child;
  }
  void put(std::string_view key, std::string text) {
    out_.entries.emplace_back(std::string(key), Node::scalar(std::move(text), origin()));
  }

  Node& out_;
};

}  // namespace

std::string format_double(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, end);
  // Keep floats recognisable as floats when read back: "1" would be an int, and
  // YAML 1.1 readers such as PyYAML take "1e-08" for a string but "1.0e-08" for a float.
  const size_t exponent = text.find('e');
  if (text.find('.') == std::string::npos) {
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  return text;
}

Node settings_to_node(ExperimentSettings& settings) {
  Node root;
  Writer writer(root);
  settings.visit(writer);
  return root;
}

std::string settings_to_yaml(ExperimentSettings& settings) { return to_yaml(settings_to_node(settings)); }

}  // namespace trainer::config
