#include "config/schema.h"

#include <cmath>
#include <cstdio>

#include "config/load.h"
#include "config/settings.h"

namespace trainer::config {
namespace {

/// Builds the "properties" of one JSON object schema from the fields it is shown.
class SchemaWriter : public FieldVisitor {
 public:
  explicit SchemaWriter(const Catalog& catalog) : catalog_(catalog) {}

  /// Returns `{"type": "object", "properties": {...}, "additionalProperties": false}`.
  std::string object(const char* help) const {
    std::string text = "{\"type\": \"object\"";
    if (help != nullptr && *help != '\0') text += ", \"description\": " + json_string(help);
    text += ", \"additionalProperties\": false, \"properties\": {" + properties_ + "}}";
    return text;
  }

  void field(std::string_view key, bool& value, const FieldDoc& doc) override {
    add(key, "{\"type\": \"boolean\", \"default\": " + std::string(value ? "true" : "false") + describe(doc) + "}");
  }
  void field(std::string_view key, int64_t& value, const FieldDoc& doc) override {
    add(key, "{\"type\": \"integer\", \"default\": " + std::to_string(value) + bounds(doc) + describe(doc) + "}");
  }
  void field(std::string_view key, double& value, const FieldDoc& doc) override {
    add(key, "{\"type\": \"number\", \"default\": " + json_number(value) + bounds(doc) + describe(doc) + "}");
  }
  void field(std::string_view key, std::string& value, const FieldDoc& doc) override {
    // A YAML scalar such as 32 reads as a number to a schema validator but as the text
    // "32" to the config reader, so numbers are valid wherever strings are.
    std::string text = doc.list_as_text
                           ? "{\"type\": [\"string\", \"number\", \"array\"], \"items\": {\"type\": \"integer\"}"
                           : "{\"type\": [\"string\", \"number\"]";
    text += ", \"default\": " + json_string(value);
    if (!doc.choices.empty()) {
      std::string choices;
      for (const std::string& choice : doc.choices) {
        choices += (choices.empty() ? "" : ", ") + json_string(choice);
        const bool integer = !choice.empty() && choice.find_first_not_of("0123456789") == std::string::npos;
        if (integer) choices += ", " + choice;
      }
      text += ", \"enum\": [" + choices + "]";
    }
    add(key, text + describe(doc) + "}");
  }
  void field(std::string_view key, std::vector<int64_t>& value, const FieldDoc& doc) override {
    std::string defaults;
    for (size_t i = 0; i < value.size(); ++i) defaults += (i ? ", " : "") + std::to_string(value[i]);
    add(key, "{\"type\": \"array\", \"items\": {\"type\": \"integer\"" + bounds(doc) + "}, \"default\": [" + defaults +
                 "]" + describe(doc) + "}");
  }
  void field(std::string_view key, std::vector<double>& value, const FieldDoc& doc) override {
    std::string defaults;
    for (size_t i = 0; i < value.size(); ++i) defaults += (i ? ", " : "") + json_number(value[i]);
    add(key, "{\"type\": \"array\", \"items\": {\"type\": \"number\"" + bounds(doc) + "}, \"default\": [" + defaults +
                 "]" + describe(doc) + "}");
  }
  void field(std::string_view key, BatchLimit& value, const FieldDoc& doc) override {
    const std::string text = value.is_fraction ? json_number(value.value) : std::to_string(static_cast<int64_t>(value.value));
    add(key, "{\"type\": \"number\", \"minimum\": 0, \"default\": " + text + describe(doc) + "}");
  }
  void field(std::string_view key, CountOrFlag& value, const FieldDoc& doc) override {
    add(key, "{\"anyOf\": [{\"type\": \"boolean\"}, {\"type\": \"integer\", \"minimum\": 0}], \"default\": " +
                 std::to_string(value.value) + describe(doc) + "}");
  }
  void section(std::string_view key, const FieldDoc& doc, const std::function<void(FieldVisitor&)>& body) override {
    SchemaWriter child(catalog_);
    body(child);
    add(key, child.object(doc.help));
  }
  void component(std::string_view key, Component& value, ComponentKind kind, const FieldDoc& doc) override {
    add(key, component_schema(value.class_path, kind, doc));
  }
  void component_list(std::string_view key, std::vector<Component>&, ComponentKind kind, const FieldDoc& doc) override {
    add(key, "{\"type\": \"array\", \"default\": [], \"items\": " + component_schema("", kind, FieldDoc{}) +
                 describe(doc) + "}");
  }

 private:
  /// `{class_path, init_args}` with init_args checked per class, or the class name alone.
  std::string component_schema(const std::string& default_class, ComponentKind kind, const FieldDoc& doc) const {
    const std::vector<std::string> names = catalog_.names(kind);
    std::string choices;
    for (size_t i = 0; i < names.size(); ++i) choices += (i ? ", " : "") + json_string(names[i]);

    // One if/then per class: init_args must match the arguments of the chosen class_path.
    std::string branches;
    for (const std::string& name : names) {
      SchemaWriter args_writer(catalog_);
      std::unique_ptr<Args> args = catalog_.make_args(kind, name);
      if (args) args->visit(args_writer);
      if (!branches.empty()) branches += ", ";
      branches += "{\"if\": {\"properties\": {\"class_path\": {\"const\": " + json_string(name) +
                  "}}}, \"then\": {\"properties\": {\"init_args\": " + args_writer.object(nullptr) + "}}}";
    }
    const std::string map_form =
        "{\"type\": \"object\", \"additionalProperties\": false, "
        "\"properties\": {\"class_path\": {\"type\": \"string\", \"enum\": [" + choices + "]" +
        (default_class.empty() ? std::string() : ", \"default\": " + json_string(default_class)) +
        "}, \"init_args\": {\"type\": \"object\"}}, \"allOf\": [" + branches + "]}";
    // `model: cnn` is shorthand for the class_path alone; an optional component may be null.
    std::string forms = map_form + ", {\"type\": \"string\", \"enum\": [" + choices + "]}";
    if (doc.optional) forms += ", {\"type\": \"null\"}";
    const std::string description = doc.help != nullptr && *doc.help != '\0' ? "\"description\": " + json_string(doc.help) + ", " : "";
    return "{" + description + "\"anyOf\": [" + forms + "]}";
  }

  void add(std::string_view key, const std::string& schema) {
    if (!properties_.empty()) properties_ += ", ";
    properties_ += json_string(std::string(key)) + ": " + schema;
  }
  static std::string json_number(double value) {
    // JSON has no infinities or NaN.
    return std::isfinite(value) ? format_double(value) : "null";
  }
  static std::string bounds(const FieldDoc& doc) {
    std::string text;
    if (doc.min) text += ", \"minimum\": " + json_number(*doc.min);
    if (doc.max) text += ", \"maximum\": " + json_number(*doc.max);
    return text;
  }
  static std::string describe(const FieldDoc& doc) {
    return doc.help != nullptr && *doc.help != '\0' ? ", \"description\": " + json_string(doc.help) : std::string();
  }

  const Catalog& catalog_;
  std::string properties_;
};

}  // namespace

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string config_json_schema(const Catalog& catalog) {
  ExperimentSettings defaults;
  SchemaWriter writer(catalog);
  defaults.visit(writer);
  return "{\"$schema\": \"http://json-schema.org/draft-07/schema#\", \"title\": \"trainer experiment config\", " +
         writer.object(nullptr).substr(1) + "\n";
}

}  // namespace trainer::config
