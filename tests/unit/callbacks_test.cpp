// Callbacks against a fake loop: checkpoint retention, NaN scores, early-stopping state.

#include <cmath>
#include <filesystem>

#include "core/errors.h"
#include "settings_fixture.h"
#include "test_util.h"
#include "trainer/callbacks/callback.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::callbacks {
namespace {

using testing::TempDir;

/// A loop stand-in: "checkpoints" are empty files, metrics are set by the test.
class FakeContext : public CallbackContext {
 public:
  explicit FakeContext(std::string dir) : dir_(std::move(dir)) {}
  int64_t epoch() const override { return epoch_; }
  int64_t global_step() const override { return step_; }
  const MetricHistory& metrics() const override { return history_; }
  std::string checkpoint_dir() const override { return dir_; }
  void save_checkpoint(const std::string& path) override {
    std::ofstream(path) << "checkpoint";
    saves.push_back(std::filesystem::path(path).filename().string());
  }
  void request_stop(const std::string& reason) override {
    if (stop_reason.empty()) stop_reason = reason;  // the first request is the one that ends fit
  }
  std::vector<double> learning_rates() const override { return {0.5}; }
  void log_metrics(const logging::Metrics& metrics) override { logged.insert(logged.end(), metrics.begin(), metrics.end()); }

  /// Advances to the next epoch with `metric` = `value`.
  void next_epoch(const std::string& metric, double value) {
    ++epoch_;
    step_ += 10;
    history_[metric] = {value, step_, epoch_};
  }

  std::vector<std::string> saves;
  std::string stop_reason;
  logging::Metrics logged;

 private:
  std::string dir_;
  int64_t epoch_ = -1;
  int64_t step_ = 0;
  MetricHistory history_;
};

std::unique_ptr<Callback> make(const std::string& yaml) {
  const auto settings = testing::settings_from_yaml("model: mlp\ntrainer:\n  callbacks:\n" + yaml);
  const config::Component& component = settings.trainer.callbacks.at(0);
  return callback_registry().find(component.class_path)->build(*component.args);
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("model_checkpoint keeps the best k and ranks NaN last") {
  TempDir dir;
  FakeContext context(dir.path().string());
  auto checkpoint = make(
      "    - class_path: model_checkpoint\n"
      "      init_args: {monitor: val/loss, save_top_k: 2, save_last: false, filename: 'e{epoch}-{val/loss:.2f}'}\n");
  for (double loss : {0.5, std::nan(""), 0.3, 0.4, 0.2}) {
    context.next_epoch("val/loss", loss);
    checkpoint->on_train_epoch_end(context);
  }
  // The NaN entered while there was room, was evicted first, and blocked nothing.
  CHECK(context.saves == std::vector<std::string>{"e0-0.50.ckpt", "e1-nan.ckpt", "e2-0.30.ckpt", "e3-0.40.ckpt",
                                                  "e4-0.20.ckpt"});
  CHECK(files_in(dir.path().string()) == std::vector<std::string>{"e2-0.30.ckpt", "e4-0.20.ckpt"});
  CHECK(checkpoint->summary() == "best checkpoint " + (dir.path() / "e4-0.20.ckpt").string() + " (val/loss=0.2)");
}

TEST_CASE("model_checkpoint without a monitor keeps the newest") {
  TempDir dir;
  FakeContext context(dir.path().string());
  auto checkpoint = make("    - class_path: model_checkpoint\n      init_args: {save_top_k: 1}\n");
  for (int epoch = 0; epoch < 3; ++epoch) {
    context.next_epoch("val/loss", 1.0);
    checkpoint->on_train_epoch_end(context);
  }
  CHECK(files_in(dir.path().string()) == std::vector<std::string>{"epoch=2-step=30.ckpt", "last.ckpt"});
}

TEST_CASE("model_checkpoint state survives a restore") {
  TempDir dir;
  FakeContext context(dir.path().string());
  const std::string yaml = "    - class_path: model_checkpoint\n      init_args: {monitor: val/acc, mode: max, save_top_k: 1}\n";
  auto first = make(yaml);
  context.next_epoch("val/acc", 0.9);
  first->on_train_epoch_end(context);
  auto second = make(yaml);
  second->load_state(first->state());
  context.next_epoch("val/acc", 0.8);  // worse: the restored best must keep its place
  second->on_train_epoch_end(context);
  CHECK(files_in(dir.path().string()) == std::vector<std::string>{"epoch=0-step=10.ckpt", "last.ckpt"});
}

TEST_CASE("model_checkpoint every_n_train_steps") {
  TempDir dir;
  FakeContext context(dir.path().string());
  auto checkpoint = make(
      "    - class_path: model_checkpoint\n      init_args: {every_n_train_steps: 20, save_top_k: -1, save_last: false}\n");
  for (int epoch = 0; epoch < 4; ++epoch) {
    context.next_epoch("val/loss", 1.0);  // steps 10, 20, 30, 40
    checkpoint->on_train_step_end(context);
    checkpoint->on_train_epoch_end(context);  // ignored: step-based saving is on
  }
  CHECK(context.saves == std::vector<std::string>{"epoch=1-step=20.ckpt", "epoch=3-step=40.ckpt"});
}

TEST_CASE("checkpoint name template errors") {
  CHECK_THROWS_WITH_AS(format_checkpoint_name("{val/acc}", 0, 0, {}),
                       "checkpoint filename '{val/acc}' uses metric 'val/acc', which has not been logged yet",
                       UsageError);
  CHECK_THROWS_WITH_AS(format_checkpoint_name("{epoch}{", 0, 0, {}), "checkpoint filename '{epoch}{' has an unclosed '{'",
                       UsageError);
  CHECK(format_checkpoint_name("epoch={epoch}-val_loss={val/loss:.4f}", 3, 7, {{"val/loss", {0.123456, 7, 3}}}) ==
        "epoch=3-val_loss=0.1235");
}

TEST_CASE("early_stopping patience survives a resume") {
  const std::string yaml = "    - class_path: early_stopping\n      init_args: {monitor: val/loss, patience: 2}\n";
  TempDir dir;
  FakeContext uninterrupted(dir.path().string());
  auto whole = make(yaml);
  FakeContext resumed(dir.path().string());
  auto before = make(yaml);
  auto after = make(yaml);

  const std::vector<double> losses{1.0, 0.8, 0.9, 0.85, 0.95};
  int stopped_whole = -1;
  int stopped_resumed = -1;
  for (size_t i = 0; i < losses.size(); ++i) {
    uninterrupted.next_epoch("val/loss", losses[i]);
    whole->on_validation_end(uninterrupted);
    if (stopped_whole < 0 && !uninterrupted.stop_reason.empty()) stopped_whole = static_cast<int>(i);

    resumed.next_epoch("val/loss", losses[i]);
    if (i < 3) {
      before->on_validation_end(resumed);
      if (i == 2) after->load_state(before->state());  // "resume" after the third check
    } else {
      after->on_validation_end(resumed);
    }
    if (stopped_resumed < 0 && !resumed.stop_reason.empty()) stopped_resumed = static_cast<int>(i);
  }
  CHECK(stopped_whole == 3);  // 0.9 and 0.85 do not beat 0.8: two checks without improvement
  CHECK(stopped_resumed == stopped_whole);
  CHECK(resumed.stop_reason == "early_stopping: val/loss did not improve for 2 validation runs (best 0.8)");
}

TEST_CASE("early_stopping thresholds and missing metric") {
  TempDir dir;
  FakeContext context(dir.path().string());
  auto stopping = make("    - class_path: early_stopping\n      init_args: {monitor: val/acc, mode: max, stopping_threshold: 0.9}\n");
  context.next_epoch("val/acc", 0.95);
  stopping->on_validation_end(context);
  CHECK(context.stop_reason == "early_stopping: val/acc = 0.95 reached the stopping threshold 0.9");

  FakeContext other(dir.path().string());
  auto missing = make("    - class_path: early_stopping\n      init_args: {monitor: val/acc}\n");
  other.next_epoch("val/loss", 1.0);
  CHECK_THROWS_WITH_AS(missing->on_validation_end(other),
                       "early_stopping monitors 'val/acc', which is not logged; logged metrics: val/loss", UsageError);
}

TEST_CASE("lr_monitor logs each group") {
  TempDir dir;
  FakeContext context(dir.path().string());
  auto monitor = make("    - class_path: lr_monitor\n");
  monitor->on_train_epoch_end(context);
  REQUIRE(context.logged.size() == 1);
  CHECK(context.logged[0].first == "lr/pg0");
  CHECK(context.logged[0].second == 0.5);
}

}  // namespace
}  // namespace trainer::callbacks
