// Config loading: merging, overrides, interpolation, typed checks and their messages.

#include <doctest/doctest.h>

#include <cstdlib>

#include "config/explain.h"
#include "config/load.h"
#include "config/schema.h"
#include "config/problems.h"
#include "test_util.h"

namespace trainer::config {
namespace {

using testing::TempDir;

struct FakeMlpArgs : Args {
  std::vector<int64_t> hidden_sizes{256};
  void visit(FieldVisitor& v) override { v.field("hidden_sizes", hidden_sizes, {"", {}, 1}); }
};

struct FakeCnnArgs : Args {
  std::vector<int64_t> channels{16, 32};
  double dropout = 0.0;
  void visit(FieldVisitor& v) override {
    v.field("channels", channels, {"", {}, 1});
    v.field("dropout", dropout, {"", {}, 0.0, 1.0});
  }
};

struct FakeDataArgs : Args {
  std::string root = "/data";
  int64_t batch_size = 128;
  void visit(FieldVisitor& v) override {
    v.field("root", root, {"", {}, {}, {}, true});
    v.field("batch_size", batch_size, {"", {}, 1});
  }
};

struct FakeAdamArgs : Args {
  double lr = 1e-3;
  void visit(FieldVisitor& v) override { v.field("lr", lr, {"", {}, 0.0}); }
};

/// A catalog with stand-ins for the built-in components, so these tests need no LibTorch.
/// The default `trainer.logger: [csv]` must resolve when a saved config is read back.
struct FakeLoggerArgs : Args {
  void visit(FieldVisitor&) override {}
};

class FakeCatalog : public Catalog {
 public:
  std::vector<std::string> names(ComponentKind kind) const override {
    switch (kind) {
      case ComponentKind::model: return {"cnn", "mlp"};
      case ComponentKind::data: return {"fashion_mnist"};
      case ComponentKind::optimizer: return {"adam"};
      case ComponentKind::lr_scheduler: return {};
      case ComponentKind::callback: return {};
      case ComponentKind::logger: return {"csv"};
    }
    return {};
  }
  std::unique_ptr<Args> make_args(ComponentKind kind, const std::string& name) const override {
    if (kind == ComponentKind::model && name == "mlp") return std::make_unique<FakeMlpArgs>();
    if (kind == ComponentKind::model && name == "cnn") return std::make_unique<FakeCnnArgs>();
    if (kind == ComponentKind::data && name == "fashion_mnist") return std::make_unique<FakeDataArgs>();
    if (kind == ComponentKind::optimizer && name == "adam") return std::make_unique<FakeAdamArgs>();
    if (kind == ComponentKind::logger && name == "csv") return std::make_unique<FakeLoggerArgs>();
    return nullptr;
  }
};

const FakeCatalog catalog;

/// Loads `yaml` as a config file named exp.yaml in `dir`, with `overrides`.
LoadedConfig load_text(const TempDir& dir, const std::string& yaml, const std::vector<Override>& overrides = {}) {
  return load_config({dir.write("exp.yaml", yaml)}, overrides, catalog);
}

/// Returns the message of the ConfigError that loading `yaml` throws, with the temp path as "exp.yaml".
std::string load_error(const std::string& yaml, const std::vector<Override>& overrides = {}) {
  TempDir dir;
  const std::string path = dir.write("exp.yaml", yaml);
  try {
    load_config({path}, overrides, catalog);
  } catch (const ConfigError& error) {
    std::string message = error.what();
    for (size_t at = message.find(path); at != std::string::npos; at = message.find(path)) {
      message.replace(at, path.size(), "exp.yaml");
    }
    return message;
  }
  return "no error";
}

constexpr const char* kModel = "model:\n  class_path: cnn\n";

TEST_CASE("defaults fill every field") {
  TempDir dir;
  const LoadedConfig loaded = load_text(dir, kModel);
  CHECK(loaded.settings.trainer.max_epochs == 10);
  CHECK(loaded.settings.accelerator.precision == "32");
  CHECK(loaded.settings.data.class_path == "fashion_mnist");
  CHECK(loaded.settings.data.as<FakeDataArgs>().batch_size == 128);
  CHECK(loaded.settings.model.as<FakeCnnArgs>().channels == std::vector<int64_t>{16, 32});
}

TEST_CASE("unknown key names file, line, column and suggestion") {
  CHECK(load_error(std::string(kModel) + "trainer:\n  max_epoch: 3\n") ==
        "exp.yaml:4:3: trainer.max_epoch: unknown key; did you mean 'trainer.max_epochs'?");
}

TEST_CASE("unknown init_args key suggests within the class") {
  CHECK(load_error("model:\n  class_path: cnn\n  init_args:\n    chanels: [8]\n") ==
        "exp.yaml:4:5: model.init_args.chanels: unknown key; did you mean 'model.init_args.channels'?");
}

TEST_CASE("every problem is reported at once") {
  const std::string message =
      load_error(std::string(kModel) + "trainer:\n  max_epoch: 3\n  precision: 15\nseed: 1\n");
  CHECK(message ==
        "3 config problems:\n"
        "  exp.yaml:4:3: trainer.max_epoch: unknown key; did you mean 'trainer.max_epochs'?\n"
        "  exp.yaml:5:14: trainer.precision: invalid value '15'; choose one of '32', '32-true', '64', '64-true', "
        "'bf16-mixed', '16-mixed', 'bf16-true'\n"
        "  exp.yaml:6:1: seed: unknown key; valid keys here: 'seed_everything', 'trainer', 'model', 'data', "
        "'optimizer', 'lr_scheduler'");
}

TEST_CASE("wrong types are named with the value") {
  CHECK(load_error(std::string(kModel) + "trainer:\n  max_epochs: ten\n") ==
        "exp.yaml:4:15: trainer.max_epochs: expected an integer, got 'ten'");
  CHECK(load_error(std::string(kModel) + "trainer:\n  max_epochs: 1.5\n") ==
        "exp.yaml:4:15: trainer.max_epochs: expected an integer, got the float 1.5");
  CHECK(load_error(std::string(kModel) + "trainer:\n  deterministic: no\n") ==
        "exp.yaml:4:18: trainer.deterministic: expected true or false, got 'no'");
  CHECK(load_error(std::string(kModel) + "trainer:\n  max_epochs: [1, 2]\n") ==
        "exp.yaml:4:15: trainer.max_epochs: expected an integer, got a list");
}

TEST_CASE("int where a float is expected is accepted") {
  TempDir dir;
  const LoadedConfig loaded = load_text(dir, std::string(kModel) + "optimizer:\n  init_args:\n    lr: 1\n");
  CHECK(loaded.settings.optimizer.as<FakeAdamArgs>().lr == 1.0);
  const LoadedConfig scientific = load_text(dir, std::string(kModel) + "optimizer:\n  init_args:\n    lr: 1e-3\n");
  CHECK(scientific.settings.optimizer.as<FakeAdamArgs>().lr == doctest::Approx(1e-3));
}

TEST_CASE("ranges are checked") {
  CHECK(load_error(std::string(kModel) + "trainer:\n  max_epochs: -5\n") ==
        "exp.yaml:4:15: trainer.max_epochs: value -5 is out of range; expected at least -1.0");
  CHECK(load_error("model:\n  class_path: cnn\n  init_args:\n    dropout: 1.5\n") ==
        "exp.yaml:4:14: model.init_args.dropout: value 1.5 is out of range; expected between 0.0 and 1.0");
}

TEST_CASE("batch limits read ints as counts and floats as fractions") {
  TempDir dir;
  const LoadedConfig loaded =
      load_text(dir, std::string(kModel) + "trainer:\n  limit_train_batches: 10\n  limit_val_batches: 0.25\n");
  CHECK_FALSE(loaded.settings.trainer.limit_train_batches.is_fraction);
  CHECK(loaded.settings.trainer.limit_train_batches.resolve(100) == 10);
  CHECK(loaded.settings.trainer.limit_val_batches.is_fraction);
  CHECK(loaded.settings.trainer.limit_val_batches.resolve(100) == 25);
  CHECK(load_error(std::string(kModel) + "trainer:\n  limit_val_batches: 1.5\n") ==
        "exp.yaml:4:22: trainer.limit_val_batches: a fraction must be between 0.0 and 1.0, got 1.5; write an int "
        "to count batches");
}

TEST_CASE("unknown class_path lists choices and suggestion") {
  CHECK(load_error("model:\n  class_path: cnm\n") ==
        "exp.yaml:2:15: model.class_path: unknown model 'cnm'; choose one of 'cnn', 'mlp'; did you mean 'cnn'?");
}

TEST_CASE("missing model class_path is an error") {
  CHECK(load_error("trainer:\n  max_epochs: 1\n") ==
        "config: model.class_path: missing; choose a model from 'cnn', 'mlp'");
}

TEST_CASE("command line overrides files") {
  TempDir dir;
  const LoadedConfig loaded = load_text(dir, std::string(kModel) + "trainer:\n  max_epochs: 3\n",
                                        {{"trainer.max_epochs", "5"}, {"data.init_args.batch_size", "256"}});
  CHECK(loaded.settings.trainer.max_epochs == 5);
  CHECK(loaded.settings.data.as<FakeDataArgs>().batch_size == 256);
}

TEST_CASE("later files override earlier files") {
  TempDir dir;
  const std::string base = dir.write("base.yaml", std::string(kModel) + "trainer:\n  max_epochs: 3\n  max_steps: 7\n");
  const std::string top = dir.write("top.yaml", "trainer:\n  max_epochs: 4\n");
  const LoadedConfig loaded = load_config({base, top}, {}, catalog);
  CHECK(loaded.settings.trainer.max_epochs == 4);
  CHECK(loaded.settings.trainer.max_steps == 7);
}

TEST_CASE("override error names the command line") {
  CHECK(load_error(kModel, {{"trainer.max_epocs", "5"}}) ==
        "command line (--trainer.max_epocs): trainer.max_epocs: unknown key; did you mean 'trainer.max_epochs'?");
}

TEST_CASE("class_path switch drops old init_args") {
  TempDir dir;
  const std::string yaml = "model:\n  class_path: cnn\n  init_args:\n    channels: [8, 8]\n";
  const LoadedConfig shorthand = load_text(dir, yaml, {{"model", "mlp"}});
  CHECK(shorthand.settings.model.class_path == "mlp");
  CHECK(shorthand.settings.model.as<FakeMlpArgs>().hidden_sizes == std::vector<int64_t>{256});
  const LoadedConfig dotted = load_text(dir, yaml, {{"model.class_path", "mlp"}});
  CHECK(dotted.settings.model.class_path == "mlp");
}

TEST_CASE("same class_path keeps init_args") {
  TempDir dir;
  const LoadedConfig loaded =
      load_text(dir, "model:\n  class_path: cnn\n  init_args:\n    channels: [8, 8]\n", {{"model", "cnn"}});
  CHECK(loaded.settings.model.as<FakeCnnArgs>().channels == std::vector<int64_t>{8, 8});
}

TEST_CASE("lists replace as a whole") {
  TempDir dir;
  const LoadedConfig loaded = load_text(dir, "model:\n  class_path: cnn\n  init_args:\n    channels: [8, 8, 8]\n",
                                        {{"model.init_args.channels", "[4]"}});
  CHECK(loaded.settings.model.as<FakeCnnArgs>().channels == std::vector<int64_t>{4});
}

TEST_CASE("env interpolation substitutes or fails by name") {
  TempDir dir;
  ::setenv("TRAINER_TEST_EPOCHS", "6", 1);
  ::unsetenv("TRAINER_TEST_MISSING");
  const LoadedConfig loaded = load_text(
      dir, std::string(kModel) + "trainer:\n  max_epochs: ${env:TRAINER_TEST_EPOCHS}\n  run_name: "
                                 "x_${env:TRAINER_TEST_MISSING,fallback}\n");
  CHECK(loaded.settings.trainer.max_epochs == 6);
  CHECK(loaded.settings.logger.run_name == "x_fallback");
  CHECK(load_error(std::string(kModel) + "trainer:\n  run_name: ${env:TRAINER_TEST_MISSING}\n") ==
        "exp.yaml:4:13: trainer.run_name: environment variable 'TRAINER_TEST_MISSING' is not set; set it or "
        "write ${env:TRAINER_TEST_MISSING,default}");
}

TEST_CASE("relative paths resolve against the config file") {
  TempDir dir;
  const std::string path = dir.write("sub/exp.yaml", std::string(kModel) + "data:\n  init_args:\n    root: data\n");
  const LoadedConfig loaded = load_config({path}, {}, catalog);
  CHECK(loaded.settings.data.as<FakeDataArgs>().root == (dir.path() / "sub" / "data").string());

  const LoadedConfig from_cli = load_config({path}, {{"data.init_args.root", "data"}}, catalog);
  CHECK(from_cli.settings.data.as<FakeDataArgs>().root == "data");
}

TEST_CASE("saved config reloads to the same settings") {
  TempDir dir;
  LoadedConfig loaded = load_text(dir, std::string(kModel) +
                                           "trainer:\n  max_epochs: 2\n  limit_val_batches: 0.5\n"
                                           "  limit_train_batches: 3\noptimizer:\n  init_args:\n    lr: 0.1\n");
  const std::string saved = settings_to_yaml(loaded.settings);
  LoadedConfig reloaded = load_config({dir.write("config.yaml", saved)}, {}, catalog);
  CHECK(settings_to_yaml(reloaded.settings) == saved);
  CHECK(reloaded.settings.trainer.limit_train_batches.resolve(100) == 3);
  CHECK(reloaded.settings.optimizer.as<FakeAdamArgs>().lr == 0.1);
}

TEST_CASE("malformed YAML names the position") {
  CHECK(load_error("model: [cnn\n") ==
        "exp.yaml:2:1: invalid YAML: end of sequence flow not found");
}

TEST_CASE("duplicate keys are rejected") {
  CHECK(load_error(std::string(kModel) + "trainer:\n  max_epochs: 1\n  max_epochs: 2\n") ==
        "exp.yaml:5:3: max_epochs: duplicate key; each key may appear once in a map");
}

TEST_CASE("missing config file is one clear problem") {
  try {
    load_config({"/nonexistent/exp.yaml"}, {}, catalog);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& error) {
    CHECK(std::string(error.what()) ==
          "/nonexistent/exp.yaml: cannot open config file (does it exist and is it readable?)");
  }
}

TEST_CASE("override arguments in both spellings") {
  const std::vector<Override> overrides =
      parse_override_args({"--trainer.max_epochs=5", "--model", "mlp", "--data.init_args.batch_size", "64"});
  REQUIRE(overrides.size() == 3);
  CHECK(overrides[0].key == "trainer.max_epochs");
  CHECK(overrides[0].value == "5");
  CHECK(overrides[1].key == "model");
  CHECK(overrides[1].value == "mlp");
  CHECK(overrides[2].value == "64");
  CHECK_THROWS_WITH(parse_override_args({"stray"}),
                    "unexpected argument 'stray'; overrides are written --section.key=value");
  CHECK_THROWS_WITH(parse_override_args({"--trainer.max_epochs"}),
                    "option '--trainer.max_epochs' needs a value: write --trainer.max_epochs=VALUE");
}

TEST_CASE("closest match accepts small typos only") {
  CHECK(closest_match("max_epoch", {"max_epochs", "max_steps"}) == "max_epochs");
  CHECK(closest_match("zzz", {"max_epochs", "max_steps"}).empty());
}

TEST_CASE("devices parse counts and id lists") {
  CHECK(parse_devices("auto").count == 1);
  CHECK(parse_devices("auto").ids.empty());
  CHECK(parse_devices("3").count == 3);
  CHECK(parse_devices("3").ids.empty());
  CHECK(parse_devices("0,1").ids == std::vector<int64_t>{0, 1});
  CHECK(parse_devices("0,1").count == 2);
  CHECK(parse_devices("2, 0").ids == std::vector<int64_t>{2, 0});
  CHECK(parse_devices("1,").ids == std::vector<int64_t>{1});
  CHECK(parse_devices("1,").count == 1);
  const char* const accepted = "; give 'auto', a positive number of devices such as 2, or a list of device ids such "
                               "as [0, 1] (0,1 on the command line)";
  for (const char* invalid : {"0", "-1", "two", "", ",", "0,,1", ",1", "0,-1", "1.5"}) {
    CAPTURE(invalid);
    CHECK_THROWS_WITH_AS(parse_devices(invalid),
                         ("trainer.devices: invalid value '" + std::string(invalid) + "'" + accepted).c_str(),
                         UsageError);
  }
  CHECK_THROWS_WITH_AS(parse_devices("0,1,0"),
                       "trainer.devices: device id 0 appears twice in '0,1,0'; list each device once", UsageError);
}

TEST_CASE("devices accept a YAML list or commas") {
  TempDir dir;
  const std::string cuda = std::string(kModel) + "trainer:\n  accelerator: cuda\n";
  CHECK(load_text(dir, cuda + "  devices: [0, 1]\n").settings.accelerator.devices == "0,1");
  CHECK(load_text(dir, cuda + "  devices: [3]\n").settings.accelerator.devices == "3,");
  CHECK(load_text(dir, cuda + "  devices: 2\n").settings.accelerator.devices == "2");
  CHECK(load_text(dir, cuda, {{"trainer.devices", "0,1"}}).settings.accelerator.devices == "0,1");
  CHECK(load_text(dir, cuda, {{"trainer.devices", "[2, 3]"}}).settings.accelerator.devices == "2,3");
  CHECK(load_text(dir, cuda, {{"trainer.devices", "1,"}}).settings.accelerator.devices == "1,");
}

TEST_CASE("device id lists survive a saved config") {
  TempDir dir;
  for (const char* list : {"[0, 1]", "[3]"}) {
    CAPTURE(list);
    LoadedConfig loaded =
        load_text(dir, std::string(kModel) + "trainer:\n  accelerator: cuda\n  devices: " + list + "\n");
    const std::string saved = settings_to_yaml(loaded.settings);
    LoadedConfig reloaded = load_config({dir.write("saved.yaml", saved)}, {}, catalog);
    CHECK(reloaded.settings.accelerator.devices == loaded.settings.accelerator.devices);
  }
}

TEST_CASE("invalid devices are config problems") {
  CHECK(load_error(std::string(kModel) + "trainer:\n  devices: two\n") ==
        "exp.yaml:4:12: trainer.devices: invalid value 'two'; give 'auto', a positive number of devices such as 2, "
        "or a list of device ids such as [0, 1] (0,1 on the command line)");
  CHECK(load_error(std::string(kModel) + "trainer:\n  accelerator: cuda\n  devices: [1, 1]\n") ==
        "exp.yaml:5:12: trainer.devices: device id 1 appears twice in '1,1'; list each device once");
  CHECK(load_error(std::string(kModel) + "trainer:\n  devices: []\n") ==
        "exp.yaml:4:12: trainer.devices: expected a value or a non-empty list, got an empty list");
  CHECK(load_error(std::string(kModel) + "trainer:\n  devices: [[0]]\n") ==
        "exp.yaml:4:13: trainer.devices: expected a list of plain values, got a list");
}

TEST_CASE("device ids with accelerator cpu are rejected") {
  CHECK(load_error(std::string(kModel) + "trainer:\n  accelerator: cpu\n  devices: [0, 1]\n") ==
        "exp.yaml:5:12: trainer.devices, trainer.accelerator: device ids '0,1' select CUDA devices, but "
        "trainer.accelerator is 'cpu'; give a number of processes such as 2, or set trainer.accelerator to 'cuda'");
  CHECK(load_error(std::string(kModel) + "trainer:\n  accelerator: cpu\n", {{"trainer.devices", "0,"}}) ==
        "command line (--trainer.devices): trainer.devices, trainer.accelerator: device ids '0' select CUDA "
        "devices, but trainer.accelerator is 'cpu'; give a number of processes such as 1, or set "
        "trainer.accelerator to 'cuda'");
}

}  // namespace
}  // namespace trainer::config

namespace trainer::config {
namespace {

TEST_CASE("unlimited epochs and steps is a cross-field error") {
  CHECK(load_error(std::string(kModel) + "trainer:\n  max_epochs: -1\n") ==
        "exp.yaml:4:15: trainer.max_epochs, trainer.max_steps: both are -1 (no limit), so fit would never end; "
        "set one of them");
}

TEST_CASE("explain shows the chain of sources") {
  TempDir dir;
  ::setenv("TRAINER_TEST_STEPS", "9", 1);
  LoadedConfig loaded = load_text(dir, std::string(kModel) +
                                           "trainer:\n  max_epochs: 3\n  max_steps: ${env:TRAINER_TEST_STEPS}\n",
                                  {{"trainer.max_epochs", "5"}});
  const std::string file = (dir.path() / "exp.yaml").string();
  CHECK(explain_key(loaded, "trainer.max_epochs") ==
        "trainer.max_epochs: 5\n"
        "  from     command line (--trainer.max_epochs)\n"
        "  replaced 3 from " + file + ":4:15\n");
  CHECK(explain_key(loaded, "trainer.max_steps") ==
        "trainer.max_steps: 9\n  from     " + file + ":5:14 via ${env:TRAINER_TEST_STEPS}\n");
  CHECK(explain_key(loaded, "model.init_args.dropout") ==
        "model.init_args.dropout: 0.0\n  from     the built-in default\n");
  CHECK_THROWS_WITH_AS(explain_key(loaded, "trainer.max_step"),
                       "command line: trainer.max_step: unknown key; did you mean 'trainer.max_steps'?", ConfigError);
}

TEST_CASE("schema lists components by class_path") {
  const std::string schema = config_json_schema(catalog);
  CHECK(schema.rfind("{\"$schema\": \"http://json-schema.org/draft-07/schema#\"", 0) == 0);
  CHECK(schema.find("\"max_epochs\": {\"type\": \"integer\", \"default\": 10, \"minimum\": -1.0") !=
        std::string::npos);
  CHECK(schema.find("\"enum\": [\"32\", 32, \"32-true\", \"64\", 64, \"64-true\", \"bf16-mixed\", \"16-mixed\", "
                    "\"bf16-true\"]") != std::string::npos);
  CHECK(schema.find("\"devices\": {\"type\": [\"string\", \"number\", \"array\"], \"items\": {\"type\": \"integer\"}") !=
        std::string::npos);
  CHECK(schema.find("{\"if\": {\"properties\": {\"class_path\": {\"const\": \"cnn\"}}}") != std::string::npos);
  CHECK(json_string("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"");
}

}  // namespace
}  // namespace trainer::config
