// Reads a merged config tree into settings structs, checking keys, types, ranges and choices.

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <tuple>

#include "config/duration.h"
#include "config/load.h"
#include "config/problems.h"

namespace trainer::config {
namespace {

std::string join_key(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

bool parse_int(const std::string& text, int64_t& out) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (begin != end && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end && begin != end;
}

bool parse_double(const std::string& text, double& out) {
  // YAML spells the special values .inf, -.inf and .nan.
  if (text == ".inf" || text == ".Inf" || text == "+.inf") { out = INFINITY; return true; }
  if (text == "-.inf" || text == "-.Inf") { out = -INFINITY; return true; }
  if (text == ".nan" || text == ".NaN") { out = NAN; return true; }
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE;
}

std::string describe_node(const Node& node) {
  switch (node.kind) {
    case Node::Kind::null: return "nothing (null)";
    case Node::Kind::map: return "a map";
    case Node::Kind::sequence: return "a list";
    case Node::Kind::scalar: break;
  }
  return "'" + node.text + "'";
}

/// A visitor that reads one map of the tree into the fields it is shown.
class Reader : public FieldVisitor {
 public:
  Reader(const Node* map, std::string prefix, const Origin& parent_origin, const Catalog& catalog,
         std::vector<Problem>& problems)
      : map_(map), prefix_(std::move(prefix)), parent_origin_(parent_origin), catalog_(catalog),
        problems_(problems) {
    if (map_ != nullptr && !map_->is_map() && !map_->is_null()) {
      fail(*map_, prefix_, "expected a map of keys, got " + describe_node(*map_));
      map_ = nullptr;
    }
  }

  /// Reports every key of the map that no field claimed.
  void report_unknown_keys() {
    if (map_ == nullptr) return;
    for (const auto& [key, value] : map_->entries) {
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string message = "unknown key";
      const std::string match = closest_match(key, known_);
      if (!match.empty()) {
        message += "; did you mean '" + join_key(prefix_, match) + "'?";
      } else if (!known_.empty()) {
        message += "; valid keys here: " + quoted_list(known_);
      }
      problems_.push_back({value.where(), join_key(prefix_, key), message});
    }
  }

  void field(std::string_view key, bool& value, const FieldDoc&) override {
    const Node* node = claim(key);
    if (node == nullptr || !expect_scalar(*node, key, "true or false")) return;
    static const std::vector<std::string> truthy{"true", "True", "TRUE"};
    static const std::vector<std::string> falsy{"false", "False", "FALSE"};
    if (std::find(truthy.begin(), truthy.end(), node->text) != truthy.end()) {
      value = true;
    } else if (std::find(falsy.begin(), falsy.end(), node->text) != falsy.end()) {
      value = false;
    } else {
      fail(*node, join_key(prefix_, key), "expected true or false, got '" + node->text + "'");
    }
  }

  void field(std::string_view key, int64_t& value, const FieldDoc& doc) override {
    const Node* node = claim(key);
    if (node == nullptr || !expect_scalar(*node, key, "an integer")) return;
    int64_t parsed = 0;
    if (!read_int(*node, key, parsed)) return;
    if (check_range(*node, key, static_cast<double>(parsed), doc)) value = parsed;
  }

  void field(std::string_view key, double& value, const FieldDoc& doc) override {
    const Node* node = claim(key);
    if (node == nullptr || !expect_scalar(*node, key, "a number")) return;
    double parsed = 0;
    if (!parse_double(node->text, parsed)) {
      fail(*node, join_key(prefix_, key), "expected a number, got '" + node->text + "'");
      return;
    }
    if (check_range(*node, key, parsed, doc)) value = parsed;
  }

  void field(std::string_view key, std::string& value, const FieldDoc& doc) override {
    const Node* node = claim(key);
    if (node != nullptr && node->is_sequence() && doc.list_as_text) {
      read_list_as_text(*node, key, value);
      return;
    }
    if (node == nullptr || !expect_scalar(*node, key, "a string")) return;
    if (!doc.choices.empty() &&
        std::find(doc.choices.begin(), doc.choices.end(), node->text) == doc.choices.end()) {
      fail(*node, join_key(prefix_, key),
           "invalid value '" + node->text + "'; choose one of " + quoted_list(doc.choices) +
               did_you_mean(node->text, doc.choices));
      return;
    }
    value = doc.is_path ? resolve_path(*node) : node->text;
  }

  void field(std::string_view key, std::vector<int64_t>& value, const FieldDoc& doc) override {
    read_list(key, value, doc, "integers", [&](const Node& item, int64_t& out) {
      return read_int(item, key, out) && check_range(item, key, static_cast<double>(out), doc);
    });
  }

  void field(std::string_view key, std::vector<double>& value, const FieldDoc& doc) override {
    read_list(key, value, doc, "numbers", [&](const Node& item, double& out) {
      if (!parse_double(item.text, out)) {
        fail(item, join_key(prefix_, key), "expected a number, got '" + item.text + "'");
        return false;
      }
      return check_range(item, key, out, doc);
    });
  }

  void field(std::string_view key, BatchLimit& value, const FieldDoc& doc) override {
    const Node* node = claim(key);
    if (node == nullptr || !expect_scalar(*node, key, "an int (batches) or a float (fraction)")) return;
    int64_t count = 0;
    double fraction = 0;
    if (parse_int(node->text, count)) {
      if (check_range(*node, key, static_cast<double>(count), doc)) value = {static_cast<double>(count), false};
    } else if (parse_double(node->text, fraction)) {
      if (!(fraction >= 0.0 && fraction <= 1.0)) {
        fail(*node, join_key(prefix_, key),
             "a fraction must be between 0.0 and 1.0, got " + node->text + "; write an int to count batches");
        return;
      }
      value = {fraction, true};
    } else {
      fail(*node, join_key(prefix_, key),
           "expected an int (number of batches) or a float (fraction), got '" + node->text + "'");
    }
  }

  void section(std::string_view key, const FieldDoc&, const std::function<void(FieldVisitor&)>& body) override {
    const Node* node = claim(key);
    const Origin& origin = node != nullptr ? node->origin : parent_origin_;
    Reader child(node, join_key(prefix_, key), origin, catalog_, problems_);
    body(child);
    child.report_unknown_keys();
  }

  void field(std::string_view key, CountOrFlag& value, const FieldDoc& doc) override {
    const Node* node = claim(key);
    if (node == nullptr || !expect_scalar(*node, key, "true, false or a count")) return;
    int64_t count = 0;
    if (node->text == "true" || node->text == "True") {
      value.value = 1;
    } else if (node->text == "false" || node->text == "False") {
      value.value = 0;
    } else if (parse_int(node->text, count)) {
      if (check_range(*node, key, static_cast<double>(count), doc)) value.value = count;
    } else {
      fail(*node, join_key(prefix_, key), "expected true, false or a count, got '" + node->text + "'");
    }
  }

  void component(std::string_view key, Component& value, ComponentKind kind, const FieldDoc& doc) override {
    const Node* node = claim(key);
    read_component(node, join_key(prefix_, key), node != nullptr ? node->origin : parent_origin_, value, kind, doc);
  }

  void component_list(std::string_view key, std::vector<Component>& value, ComponentKind kind,
                      const FieldDoc& doc) override {
    const Node* node = claim(key);
    if (node == nullptr || node->is_null()) return;
    const std::string path = join_key(prefix_, key);
    if (node->is_scalar() && (node->text == "false" || node->text == "False")) {
      value.clear();  // `logger: false` turns every component of the list off
      return;
    }
    if (!node->is_sequence()) {
      fail(*node, path, std::string("expected a list of ") + component_kind_name(kind) +
                            "s, each a map with 'class_path' and 'init_args', got " + describe_node(*node));
      return;
    }
    std::vector<Component> parsed(node->items.size());
    for (size_t i = 0; i < node->items.size(); ++i) {
      read_component(&node->items[i], path + "[" + std::to_string(i) + "]", node->items[i].origin, parsed[i], kind,
                     doc);
    }
    value = std::move(parsed);
  }

 private:
  void read_component(const Node* node, const std::string& path, Origin origin, Component& value, ComponentKind kind,
                      const FieldDoc& doc) {
    const Node* init_args = nullptr;
    if (node != nullptr && node->is_scalar()) {
      value.class_path = node->text;  // `model: cnn` is shorthand for the class_path
    } else if (node != nullptr && node->is_map()) {
      Reader outer(node, path, origin, catalog_, problems_);
      outer.field("class_path", value.class_path, {});
      init_args = outer.claim("init_args");
      outer.report_unknown_keys();
      if (const Node* class_node = node->find("class_path")) origin = class_node->origin;
    } else if (node != nullptr && node->is_null() && doc.optional) {
      value.class_path.clear();  // `lr_scheduler: null` removes an optional component
    } else if (node != nullptr && !node->is_null()) {
      fail(*node, path, "expected a class name or a map with 'class_path' and 'init_args', got " + describe_node(*node));
      return;
    }

    const std::vector<std::string> names = catalog_.names(kind);
    if (value.class_path.empty()) {
      if (doc.optional) {
        value.args.reset();
        return;
      }
      problems_.push_back({origin, path + ".class_path",
                           std::string("missing; choose a ") + component_kind_name(kind) + " from " + quoted_list(names)});
      return;
    }
    std::unique_ptr<Args> args = catalog_.make_args(kind, value.class_path);
    if (args == nullptr) {
      problems_.push_back({origin, path + ".class_path",
                           "unknown " + std::string(component_kind_name(kind)) + " '" + value.class_path +
                               "'; choose one of " + quoted_list(names) + did_you_mean(value.class_path, names)});
      return;
    }
    Reader child(init_args, path + ".init_args", origin, catalog_, problems_);
    args->visit(child);
    child.report_unknown_keys();
    value.args = std::move(args);
  }

  const Node* claim(std::string_view key) {
    known_.emplace_back(key);
    return map_ != nullptr ? map_->find(std::string(key)) : nullptr;
  }

  void fail(const Node& node, const std::string& key, const std::string& message) {
    problems_.push_back({node.origin, key, message});
  }

  bool expect_scalar(const Node& node, std::string_view key, const std::string& expected) {
    if (node.is_scalar()) return true;
    fail(node, join_key(prefix_, key), "expected " + expected + ", got " + describe_node(node));
    return false;
  }

  bool read_int(const Node& node, std::string_view key, int64_t& out) {
    if (parse_int(node.text, out)) return true;
    double as_double = 0;
    if (parse_double(node.text, as_double)) {
      fail(node, join_key(prefix_, key), "expected an integer, got the float " + node.text);
    } else {
      fail(node, join_key(prefix_, key), "expected an integer, got '" + node.text + "'");
    }
    return false;
  }

  bool check_range(const Node& node, std::string_view key, double number, const FieldDoc& doc) {
    const bool too_small = doc.min && number < *doc.min;
    const bool too_large = doc.max && number > *doc.max;
    if (!too_small && !too_large && !std::isnan(number)) return true;
    std::string message = "value " + node.text + " is out of range; expected ";
    if (doc.min && doc.max) {
      message += "between " + format_double(*doc.min) + " and " + format_double(*doc.max);
    } else if (doc.min) {
      message += "at least " + format_double(*doc.min);
    } else {
      message += "at most " + format_double(*doc.max);
    }
    fail(node, join_key(prefix_, key), message);
    return false;
  }

  template <class T, class ReadItem>
  void read_list(std::string_view key, std::vector<T>& value, const FieldDoc&, const char* expected,
                 ReadItem read_item) {
    const Node* node = claim(key);
    if (node == nullptr) return;
    std::vector<const Node*> items;
    if (node->is_sequence()) {
      for (const Node& item : node->items) items.push_back(&item);
    } else if (node->is_scalar()) {
      items.push_back(node);  // a single value is a list of one
    } else {
      fail(*node, join_key(prefix_, key), std::string("expected a list of ") + expected + ", got " + describe_node(*node));
      return;
    }
    std::vector<T> parsed;
    for (const Node* item : items) {
      if (!expect_scalar(*item, key, std::string("a list of ") + expected)) return;
      T out{};
      if (!read_item(*item, out)) return;
      parsed.push_back(out);
    }
    value = std::move(parsed);
  }

  /// Joins a list of scalars with commas; a list of one keeps a trailing comma.
  void read_list_as_text(const Node& node, std::string_view key, std::string& value) {
    if (node.items.empty()) {
      fail(node, join_key(prefix_, key), "expected a value or a non-empty list, got an empty list");
      return;
    }
    std::string joined;
    for (const Node& item : node.items) {
      if (!expect_scalar(item, key, "a list of plain values")) return;
      joined += item.text + ",";
    }
    if (node.items.size() > 1) joined.pop_back();
    value = joined;
  }

  std::string resolve_path(const Node& node) const {
    const std::filesystem::path path(node.text);
    if (node.text.empty() || path.is_absolute() || !node.origin.is_file) return node.text;
    // Paths written in a config file are relative to that file, so configs can move with their data.
    return (std::filesystem::path(node.origin.source).parent_path() / path).lexically_normal().string();
  }

  const Node* map_;
  std::string prefix_;
  Origin parent_origin_;
  const Catalog& catalog_;
  std::vector<Problem>& problems_;
  std::vector<std::string> known_;
};

/// Replaces `${env:NAME}` and `${env:NAME,default}` in every scalar of the tree.
void interpolate_env(Node& node, const std::string& path, std::vector<Problem>& problems) {
  if (node.is_map()) {
    for (auto& [key, value] : node.entries) interpolate_env(value, join_key(path, key), problems);
    return;
  }
  if (node.is_sequence()) {
    for (size_t i = 0; i < node.items.size(); ++i) {
      interpolate_env(node.items[i], path + "[" + std::to_string(i) + "]", problems);
    }
    return;
  }
  if (!node.is_scalar()) return;

  std::string& text = node.text;
  size_t start = 0;
  while ((start = text.find("${env:", start)) != std::string::npos) {
    const size_t end = text.find('}', start);
    if (end == std::string::npos) {
      problems.push_back({node.origin, path, "unterminated '${env:' in '" + text + "'; close it with '}'"});
      return;
    }
    const std::string inner = text.substr(start + 6, end - start - 6);
    const size_t comma = inner.find(',');
    const std::string name = inner.substr(0, comma);
    const char* found = std::getenv(name.c_str());
    std::string replacement;
    if (found != nullptr) {
      replacement = found;
    } else if (comma != std::string::npos) {
      replacement = inner.substr(comma + 1);
    } else {
      problems.push_back({node.origin, path,
                          "environment variable '" + name + "' is not set; set it or write ${env:" + name +
                              ",default}"});
      return;
    }
    node.via += (node.via.empty() ? "" : " ") + text.substr(start, end - start + 1);
    text.replace(start, end - start + 1, replacement);
    start += replacement.size();
  }
}

/// Returns where `dotted_key` was set, or a "default" origin.
Origin origin_of_key(const Node& merged, const std::string& dotted_key) {
  const Node* node = find_path(merged, dotted_key);
  return node != nullptr ? node->origin : Origin{"default", 0, 0, false};
}

/// Checks rules that involve several keys; each problem names all of them.
void check_cross_fields(const ExperimentSettings& settings, const Node& merged, std::vector<Problem>& problems) {
  if (settings.trainer.max_epochs < 0 && settings.trainer.max_steps < 0) {
    problems.push_back({origin_of_key(merged, "trainer.max_epochs"), "trainer.max_epochs, trainer.max_steps",
                        "both are -1 (no limit), so fit would never end; set one of them"});
  }
  const AcceleratorSettings& accelerator = settings.accelerator;
  std::string devices_problem;
  const std::optional<DeviceRequest> devices = try_parse_devices(accelerator.devices, devices_problem);
  if (!devices) {
    problems.push_back({origin_of_key(merged, "trainer.devices"), "trainer.devices", devices_problem});
  } else if (!devices->ids.empty() && accelerator.accelerator == "cpu") {
    problems.push_back({origin_of_key(merged, "trainer.devices"), "trainer.devices, trainer.accelerator",
                        "device ids '" + device_ids_text(*devices) + "' select CUDA devices, but trainer.accelerator is 'cpu'; give a "
                            "number of processes such as " + std::to_string(devices->count) +
                            ", or set trainer.accelerator to 'cuda'"});
  }

  // Both name one folder level under default_root_dir; a '/' or '..' would write elsewhere.
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"trainer.run_name", settings.logger.run_name},
                                   {"trainer.version", settings.logger.version}}) {
    if (value.find('/') != std::string::npos || value == "." || value == "..") {
      problems.push_back({origin_of_key(merged, key), key,
                          "invalid name '" + value + "': it names one folder, so it cannot contain '/' or be '.' "
                          "or '..'; set trainer.default_root_dir to choose where runs go"});
    }
  }
  if (settings.logger.run_name.empty()) {
    problems.push_back({origin_of_key(merged, "trainer.run_name"), "trainer.run_name",
                        "is empty; give the run folder a name"});
  }

  const std::string& max_time = settings.trainer.max_time;
  if (!max_time.empty() && !parse_duration_seconds(max_time)) {
    problems.push_back({origin_of_key(merged, "trainer.max_time"), "trainer.max_time",
                        "invalid duration '" + max_time + "'; write DD:HH:MM:SS (e.g. 00:12:00:00) or seconds"});
  }
}

}  // namespace

std::vector<Override> parse_override_args(const std::vector<std::string>& args) {
  std::vector<Override> overrides;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      throw UsageError("unexpected argument '" + arg + "'; overrides are written --section.key=value");
    }
    const size_t equals = arg.find('=');
    if (equals != std::string::npos) {
      overrides.push_back({arg.substr(2, equals - 2), arg.substr(equals + 1)});
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      overrides.push_back({arg.substr(2), args[i + 1]});
      ++i;
    } else {
      throw UsageError("option '" + arg + "' needs a value: write " + arg + "=VALUE");
    }
  }
  return overrides;
}

ExperimentSettings read_settings(const Node& merged, const Catalog& catalog) {
  std::vector<Problem> problems;
  ExperimentSettings settings;
  Reader reader(&merged, "", Origin{"config", 0, 0, false}, catalog, problems);
  settings.visit(reader);
  reader.report_unknown_keys();
  if (problems.empty()) check_cross_fields(settings, merged, problems);
  if (!problems.empty()) {
    // Report in the order a reader of the files would meet them.
    std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
      return std::tie(a.origin.source, a.origin.line, a.origin.column) <
             std::tie(b.origin.source, b.origin.line, b.origin.column);
    });
    throw ConfigError(std::move(problems));
  }
  return settings;
}

LoadedConfig load_config(const std::vector<std::string>& files, const std::vector<Override>& overrides,
                         const Catalog& catalog) {
  LoadedConfig loaded;
  loaded.merged.kind = Node::Kind::map;
  for (const std::string& file : files) merge_into(loaded.merged, load_yaml_file(file));

  std::vector<Problem> problems;
  for (const Override& item : overrides) {
    const std::string source = "command line (--" + item.key + ")";
    try {
      set_path(loaded.merged, item.key, parse_yaml(item.value, source, false));
    } catch (const ConfigError& error) {
      problems.insert(problems.end(), error.problems().begin(), error.problems().end());
    }
  }
  interpolate_env(loaded.merged, "", problems);
  if (!problems.empty()) throw ConfigError(std::move(problems));

  loaded.settings = read_settings(loaded.merged, catalog);
  return loaded;
}

}  // namespace trainer::config
