#pragma once
/// Name → factory tables for components chosen by `class_path` in YAML.
/// Adding a model, dataset or optimizer is one `add<Args>(name, summary, build)` call.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/fields.h"

namespace trainer {

template <class Product, class... Inputs>
class Registry {
 public:
  using Build = std::function<Product(const config::Args&, Inputs...)>;

  struct Entry {
    std::string summary;
    std::function<std::unique_ptr<config::Args>()> make_args;
    Build build;
  };

  /// Registers `name`; `ArgsT` is its init_args struct, whose defaults are the component's defaults.
  template <class ArgsT>
  void add(const std::string& name, std::string summary, std::function<Product(const ArgsT&, Inputs...)> build) {
    Entry entry;
    entry.summary = std::move(summary);
    entry.make_args = [] { return std::make_unique<ArgsT>(); };
    entry.build = [build = std::move(build)](const config::Args& args, Inputs... inputs) {
      return build(dynamic_cast<const ArgsT&>(args), inputs...);
    };
    entries_[name] = std::move(entry);
  }

  /// Returns the entry for `name`, or nullptr.
  const Entry* find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> result;
    for (const auto& entry : entries_) result.push_back(entry.first);
    return result;
  }

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace trainer
