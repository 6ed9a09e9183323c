#pragma once
/// A YAML value tree that remembers where every value came from.
///
/// yaml-cpp keeps line and column marks only on nodes straight from its parser;
/// merging and copying lose them. Config sources are therefore converted into
/// this tree, merged here, and every error can still name file:line:column.

#include <string>
#include <utility>
#include <vector>

namespace trainer::config {

/// Source position of a value: file, line and column, or the command line.
struct Origin {
  std::string source;  ///< file path, or "command line" / "default"
  int line = 0;        ///< 1-based; 0 when the source has no lines
  int column = 0;      ///< 1-based; 0 when the source has no columns
  bool is_file = false;

  /// "file:line:column", or the source alone when it has no position.
  std::string describe() const;
};

struct Node {
  enum class Kind { null, scalar, map, sequence };

  Kind kind = Kind::null;
  std::string text;  ///< scalar text as written (without quotes)
  bool quoted = false;
  std::vector<std::pair<std::string, Node>> entries;  ///< map entries in source order
  std::vector<Node> items;                              ///< sequence items
  Origin origin;      ///< where the value starts
  Origin key_origin;  ///< where its key starts, when it is a map entry from a file
  std::string via;    ///< how the text was produced, e.g. "${env:EPOCHS}"; empty when written as is
  /// Earlier values this one replaced while merging sources, oldest first.
  std::vector<std::pair<std::string, Origin>> replaced;

  /// The key's position when known (better for "unknown key" reports), else the value's.
  const Origin& where() const { return key_origin.line > 0 ? key_origin : origin; }

  bool is_null() const { return kind == Kind::null; }
  bool is_scalar() const { return kind == Kind::scalar; }
  bool is_map() const { return kind == Kind::map; }
  bool is_sequence() const { return kind == Kind::sequence; }

  /// Returns the entry with `key`, or nullptr.
  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
  /// Returns the entry with `key`, appending a null entry when it is missing.
  Node& at_or_insert(const std::string& key);
  void erase(const std::string& key);

  static Node scalar(std::string text, Origin origin, bool quoted = false);
};

/// Parses YAML text; `source` names it in errors. Throws ConfigError on a syntax error.
Node parse_yaml(const std::string& text, const std::string& source, bool is_file);

/// Reads and parses a YAML file. Throws ConfigError when it is missing or malformed.
Node load_yaml_file(const std::string& path);

/// Merges `overlay` into `base`: maps merge key by key, anything else replaces.
/// A component (a map with `class_path`) that changes class drops its old `init_args`,
/// and a scalar written where a component is expected is shorthand for its class_path.
void merge_into(Node& base, const Node& overlay);

/// Sets the value at a dotted path such as "trainer.max_epochs", creating maps on the way.
void set_path(Node& root, const std::string& dotted_path, const Node& value);

/// Returns the node at a dotted path, or nullptr.
const Node* find_path(const Node& root, const std::string& dotted_path);

/// Writes the tree as block-style YAML, quoting scalars where YAML would misread them.
std::string to_yaml(const Node& node);

}  // namespace trainer::config
