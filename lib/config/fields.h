#pragma once
/// The schema of settings structs, written once per struct as a `visit` function.
///
/// Each settings struct lists its fields with `visitor.field(key, member, doc)`.
/// The same list drives reading YAML (with type checks and unknown-key reports),
/// writing the resolved config, and printing the schema, so the three never drift.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trainer::config {

/// Documentation and checks for one field.
struct FieldDoc {
  const char* help = "";
  std::vector<std::string> choices;  ///< allowed values of a string field; empty = any
  std::optional<double> min;         ///< inclusive lower bound of a number
  std::optional<double> max;         ///< inclusive upper bound of a number
  bool is_path = false;              ///< relative paths resolve against the config file's folder
  bool optional = false;             ///< a component that may be absent (empty class_path)
  /// A string field that also takes a YAML list of scalars, stored joined by commas ("0,1").
  /// A list of one keeps a trailing comma ("1,"), so that it still reads as a list.
  bool list_as_text = false;
};

/// A batch limit written as an int (a count of batches) or a float (a fraction of the epoch).
struct BatchLimit {
  double value = 1.0;
  bool is_fraction = true;

  /// Applies the limit to a stage with `available` batches.
  int64_t resolve(int64_t available) const;
};

/// A count that may also be written as a flag: `true` is 1, `false` is 0, or an int N.
struct CountOrFlag {
  int64_t value = 0;
};

/// Arguments of a component chosen by `class_path` (a model, dataset or optimizer).
/// Each component type defines a struct deriving from this with its own visit().
struct Args {
  virtual ~Args() = default;
  virtual void visit(class FieldVisitor& visitor) = 0;
};

enum class ComponentKind { model, data, optimizer, lr_scheduler, callback, logger };

/// A component as configured: `class_path` plus its typed `init_args`.
struct Component {
  std::string class_path;
  std::shared_ptr<Args> args;  ///< null until the config is read against the catalog

  template <class T>
  const T& as() const { return dynamic_cast<const T&>(*args); }
};

class FieldVisitor {
 public:
  virtual ~FieldVisitor() = default;
  virtual void field(std::string_view key, bool& value, const FieldDoc& doc) = 0;
  virtual void field(std::string_view key, int64_t& value, const FieldDoc& doc) = 0;
  virtual void field(std::string_view key, double& value, const FieldDoc& doc) = 0;
  virtual void field(std::string_view key, std::string& value, const FieldDoc& doc) = 0;
  virtual void field(std::string_view key, std::vector<int64_t>& value, const FieldDoc& doc) = 0;
  virtual void field(std::string_view key, std::vector<double>& value, const FieldDoc& doc) = 0;
  virtual void field(std::string_view key, BatchLimit& value, const FieldDoc& doc) = 0;
  virtual void field(std::string_view key, CountOrFlag& value, const FieldDoc& doc) = 0;
  /// A nested map whose keys are listed by `body`.
  virtual void section(std::string_view key, const FieldDoc& doc,
                       const std::function<void(FieldVisitor&)>& body) = 0;
  /// A `class_path` + `init_args` map whose argument schema depends on the class.
  virtual void component(std::string_view key, Component& value, ComponentKind kind,
                         const FieldDoc& doc) = 0;
  /// A list of components, e.g. `trainer.callbacks`.
  virtual void component_list(std::string_view key, std::vector<Component>& value, ComponentKind kind,
                              const FieldDoc& doc) = 0;
};

/// The component names a config may choose, and a way to make each one's default arguments.
/// The real catalog comes from the registries; tests pass their own.
class Catalog {
 public:
  virtual ~Catalog() = default;
  virtual std::vector<std::string> names(ComponentKind kind) const = 0;
  /// Returns default arguments for `name`, or nullptr when there is no such component.
  virtual std::unique_ptr<Args> make_args(ComponentKind kind, const std::string& name) const = 0;
};

const char* component_kind_name(ComponentKind kind);

}  // namespace trainer::config
