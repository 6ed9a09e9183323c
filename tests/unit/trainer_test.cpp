// The Trainer's loop on a small generated dataset: when validation runs, how steps are
// counted with accumulation, where fit stops, predictions, and exact resume.

#include <ATen/Functions.h>
#include <torch/optim/sgd.h>

#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "data/data_connector.h"
#include "idx_fixture.h"
#include "models/model.h"
#include "settings_fixture.h"
#include "trainer/checkpoint.h"
#include "trainer/run.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer {
namespace {

using testing::TempDir;

/// 100 training images (80 train + 20 val at batch 8: 10 train batches) and 30 test images.
struct TinyRun {
  TinyRun() { testing::write_tiny_mnist(data, 100, 30); }

  /// Config for the tiny data with `trainer_yaml` lines under `trainer:` and `extra` top-level YAML.
  std::string config(const std::string& trainer_yaml, const std::string& extra = "") const {
    return "seed_everything: 3\n"
           "model:\n  class_path: mlp\n  init_args: {hidden_sizes: [16]}\n"
           "data:\n  class_path: mnist\n  init_args: {root: " + data.path().string() +
           ", batch_size: 8, val_size: 20}\n"
           "trainer:\n  default_root_dir: " + runs.path().string() +
           "\n  num_threads: 1\n  log_every_n_steps: 1\n" + trainer_yaml + extra;
  }

  RunResult fit(const std::string& yaml, const std::string& ckpt_path = "") const {
    RunOptions options;
    options.ckpt_path = ckpt_path;
    return run_stage(Stage::fit, testing::settings_from_yaml(yaml), options);
  }

  TempDir data;
  TempDir runs;
};

/// Steps (column 2 of metrics.csv) of the rows where `column` has a value.
std::vector<int64_t> steps_with(const std::string& run_dir, const std::string& column) {
  std::ifstream file(run_dir + "/metrics.csv");
  std::string line;
  std::getline(file, line);
  std::vector<std::string> header;
  std::stringstream header_stream(line);
  for (std::string cell; std::getline(header_stream, cell, ',');) header.push_back(cell);
  const auto index = std::find(header.begin(), header.end(), column) - header.begin();

  std::vector<int64_t> steps;
  while (std::getline(file, line)) {
    std::vector<std::string> cells;
    std::stringstream stream(line);
    for (std::string cell; std::getline(stream, cell, ',');) cells.push_back(cell);
    if (static_cast<size_t>(index) < cells.size() && !cells[index].empty()) steps.push_back(std::stoll(cells[1]));
  }
  return steps;
}

/// Builds the configured model and loads a checkpoint's weights into it.
std::shared_ptr<models::Model> load_model(const std::string& yaml, const std::string& checkpoint) {
  const auto settings = testing::settings_from_yaml(yaml);
  data::DataConnector data(settings.data, 0);
  auto model = models::model_registry().find("mlp")->build(*settings.model.args, data.spec());
  load_checkpoint(checkpoint, *model, nullptr);
  return model;
}

TEST_CASE("fractional validation counts optimizer steps") {
  TinyRun run;
  // 10 batches in windows of 3: 4 optimizer steps per epoch; halves are steps 2 and 4.
  const RunResult result = run.fit(run.config("  max_epochs: 2\n  accumulate_grad_batches: 3\n  val_check_interval: 0.5\n"));
  CHECK(steps_with(result.run_dir, "val/loss") == std::vector<int64_t>{2, 4, 6, 8});
  CHECK(steps_with(result.run_dir, "train/loss_step") == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("int validation interval spans epochs") {
  TinyRun run;
  const RunResult result = run.fit(run.config("  max_epochs: 2\n  accumulate_grad_batches: 3\n  val_check_interval: 3\n"));
  CHECK(steps_with(result.run_dir, "val/loss") == std::vector<int64_t>{3, 6});
}

TEST_CASE("limit_val_batches 0 with an int interval disables validation") {
  TinyRun run;
  const RunResult result =
      run.fit(run.config("  max_epochs: 2\n  val_check_interval: 3\n  limit_val_batches: 0\n  num_sanity_val_steps: 2\n"));
  CHECK(steps_with(result.run_dir, "val/loss").empty());
  CHECK(steps_with(result.run_dir, "train/loss") == std::vector<int64_t>{10, 20});
}

TEST_CASE("max_steps stops inside an epoch and saves the position") {
  TinyRun run;
  const RunResult result = run.fit(run.config("  max_epochs: 3\n  max_steps: 5\n  accumulate_grad_batches: 3\n"));
  const auto model = load_model(run.config(""), result.checkpoint);
  const CheckpointInfo info = load_checkpoint(result.checkpoint, *model, nullptr);
  CHECK(info.global_step == 5);
  CHECK(info.epoch == 1);
  CHECK(info.batch_in_epoch == 3);  // one window of 3 batches into the second epoch
}

TEST_CASE("max_epochs ends before a larger max_steps") {
  TinyRun run;
  const RunResult result = run.fit(run.config("  max_epochs: 1\n  max_steps: 100\n  accumulate_grad_batches: 3\n"));
  const auto model = load_model(run.config(""), result.checkpoint);
  const CheckpointInfo info = load_checkpoint(result.checkpoint, *model, nullptr);
  CHECK(info.global_step == 4);
  CHECK(info.epoch == 1);
  CHECK(info.batch_in_epoch == 0);
}

TEST_CASE("last short window is scaled to its own size") {
  TinyRun run;
  const std::string yaml =
      run.config("  max_epochs: 1\n  accumulate_grad_batches: 3\n  limit_val_batches: 0\n",
                 "optimizer:\n  class_path: sgd\n  init_args: {lr: 0.5}\n") ;
  std::string unshuffled = yaml;
  unshuffled.replace(unshuffled.find("val_size: 20}"), 13, "val_size: 20, shuffle: false}");
  const RunResult result = run.fit(unshuffled);
  const auto trained = load_model(unshuffled, result.checkpoint);

  // The same steps by hand: windows [0,3) [3,6) [6,9) [9,10); each window's gradient is
  // the mean of its batches' mean losses, so the last window counts its one batch fully.
  for (const double last_divisor : {1.0, 3.0}) {
    const auto settings = testing::settings_from_yaml(unshuffled);
    data::DataConnector data(settings.data, 3);
    at::manual_seed(3);
    auto model = models::model_registry().find("mlp")->build(*settings.model.args, data.spec());
    torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.5));
    data.train_loader().set_epoch(0);
    for (int64_t begin = 0; begin < 10; begin += 3) {
      const int64_t end = std::min<int64_t>(begin + 3, 10);
      const double divisor = end - begin == 3 ? 3.0 : last_divisor;
      for (int64_t index = begin; index < end; ++index) {
        model->step(data.train_loader().batch(index), false).loss.div(divisor).backward();
      }
      sgd.step();
      sgd.zero_grad();
    }
    const bool same = at::allclose(model->parameters()[0], trained->parameters()[0], 1e-5, 1e-6);
    CHECK(same == (last_divisor == 1.0));
  }
}

TEST_CASE("predict writes one row per test sample") {
  TinyRun run;
  const RunResult fitted = run.fit(run.config("  max_epochs: 1\n"));
  RunOptions options;
  options.ckpt_path = fitted.checkpoint;
  const RunResult predicted = run_stage(Stage::predict, testing::settings_from_yaml(run.config("")), options);

  std::ifstream file(predicted.output);
  std::string header;
  std::getline(file, header);
  CHECK(header.rfind("index,target,prediction,prob_0,", 0) == 0);
  CHECK(std::count(header.begin(), header.end(), ',') == 12);
  int rows = 0;
  for (std::string line; std::getline(file, line); ++rows) {
    std::vector<double> cells;
    std::stringstream stream(line);
    for (std::string cell; std::getline(stream, cell, ',');) cells.push_back(std::stod(cell));
    CHECK(cells[0] == rows);
    CHECK(cells[1] == rows % 10);  // the tiny data's labels cycle 0..9
    const auto best = std::max_element(cells.begin() + 3, cells.end()) - (cells.begin() + 3);
    CHECK(cells[2] == best);
    CHECK(std::accumulate(cells.begin() + 3, cells.end(), 0.0) == doctest::Approx(1.0).epsilon(1e-4));
  }
  CHECK(rows == 30);

  options.predict_format = "npy";
  const RunResult npy = run_stage(Stage::predict, testing::settings_from_yaml(run.config("")), options);
  const std::string bytes = testing::read_text(npy.output);
  CHECK(bytes.substr(1, 5) == "NUMPY");
  CHECK(bytes.find("'descr': '<f4', 'fortran_order': False, 'shape': (30, 10)") != std::string::npos);
  CHECK(bytes.size() == 128 + 30 * 10 * 4);
}

TEST_CASE("resume mid-epoch gives bitwise-equal weights") {
  TinyRun run;
  const std::string common =
      "  deterministic: true\n  accumulate_grad_batches: 3\n  max_epochs: 5\n  gradient_clip_val: 1.0\n";
  const std::string extra =
      "model:\n  class_path: mlp\n  init_args: {hidden_sizes: [16], dropout: 0.3}\n"
      "lr_scheduler:\n  class_path: warmup_cosine\n  init_args: {warmup_steps: 2, total_steps: 12}\n";
  auto config = [&](int64_t max_steps) {
    std::string yaml = run.config(common + "  max_steps: " + std::to_string(max_steps) + "\n");
    const std::string default_model = "model:\n  class_path: mlp\n  init_args: {hidden_sizes: [16]}\n";
    yaml.replace(yaml.find(default_model), default_model.size(), "");
    return yaml + extra;
  };

  const RunResult whole = run.fit(config(9));
  const RunResult first = run.fit(config(5));   // stops after 1 of 4 steps of epoch 1
  const RunResult second = run.fit(config(9), first.checkpoint);

  const auto expected = load_model(config(9), whole.checkpoint);
  const auto actual = load_model(config(9), second.checkpoint);
  const auto interrupted = load_model(config(9), first.checkpoint);
  const auto expected_parameters = expected->parameters();
  const auto actual_parameters = actual->parameters();
  REQUIRE(expected_parameters.size() == actual_parameters.size());
  for (size_t i = 0; i < expected_parameters.size(); ++i) {
    CHECK(at::equal(expected_parameters[i], actual_parameters[i]));
  }
  CHECK_FALSE(at::equal(expected_parameters[0], interrupted->parameters()[0]));
}

TEST_CASE("resume refuses a changed model") {
  TinyRun run;
  const RunResult first = run.fit(run.config("  max_epochs: 1\n"));
  std::string changed = run.config("  max_epochs: 2\n");
  changed.replace(changed.find("hidden_sizes: [16]"), 18, "hidden_sizes: [16], dropout: 0.1");
  try {
    run.fit(changed, first.checkpoint);
    FAIL("expected a CheckpointError");
  } catch (const CheckpointError& error) {
    CHECK(std::string(error.what()) == "resuming from '" + first.checkpoint +
                                           "' with a different model or data config (model.init_args.dropout); use "
                                           "the checkpoint's config, or pass --ignore_config_changes");
  }
}

}  // namespace
}  // namespace trainer
