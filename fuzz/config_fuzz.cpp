// libFuzzer target for the config loader: arbitrary bytes as a YAML config file, then
// the schema pass. Only ConfigError and UsageError may come out; a crash, a sanitizer
// report or any other exception is a finding.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "config/load.h"
#include "config/problems.h"
#include "core/errors.h"

namespace {

using namespace trainer::config;

struct FuzzModelArgs : Args {
  std::vector<int64_t> hidden_sizes{64};
  double dropout = 0.0;
  std::string activation = "relu";
  void visit(FieldVisitor& v) override {
    v.field("hidden_sizes", hidden_sizes, {"", {}, 1});
    v.field("dropout", dropout, {"", {}, 0.0, 1.0});
    v.field("activation", activation, {"", {"relu", "gelu"}});
  }
};

struct FuzzDataArgs : Args {
  std::string path;
  int64_t batch_size = 32;
  double val_size = 0.2;
  void visit(FieldVisitor& v) override {
    v.field("path", path, {""});
    v.field("batch_size", batch_size, {"", {}, 1});
    v.field("val_size", val_size, {"", {}, 0.0});
  }
};

struct FuzzOptimizerArgs : Args {
  double lr = 1e-3;
  void visit(FieldVisitor& v) override { v.field("lr", lr, {"", {}, 0.0}); }
};

/// Stand-ins for the built-in components, so the target links no LibTorch.
class FuzzCatalog : public Catalog {
 public:
  std::vector<std::string> names(ComponentKind kind) const override {
    if (kind == ComponentKind::model) return {"mlp"};
    if (kind == ComponentKind::data) return {"csv"};
    if (kind == ComponentKind::optimizer) return {"adam"};
    return {};
  }
  std::unique_ptr<Args> make_args(ComponentKind kind, const std::string& name) const override {
    if (kind == ComponentKind::model && name == "mlp") return std::make_unique<FuzzModelArgs>();
    if (kind == ComponentKind::data && name == "csv") return std::make_unique<FuzzDataArgs>();
    if (kind == ComponentKind::optimizer && name == "adam") return std::make_unique<FuzzOptimizerArgs>();
    return nullptr;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const FuzzCatalog catalog;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const Node merged = parse_yaml(text, "fuzz.yaml", true);
    ExperimentSettings settings = read_settings(merged, catalog);
    // The resolved config must write back to YAML that loads again.
    const std::string yaml = settings_to_yaml(settings);
    read_settings(parse_yaml(yaml, "round-trip.yaml", true), catalog);
  } catch (const ConfigError&) {
  } catch (const trainer::UsageError&) {
  }
  return 0;
}
