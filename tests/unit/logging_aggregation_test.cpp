// Metric logging through LoggerConnector::log: reductions, step and epoch names, the
// progress display's terminal and plain modes.

#include <ATen/Functions.h>

#include <cmath>
#include <cstdio>

#include "logging/logger_connector.h"
#include "logging/progress.h"
#include "test_util.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::logging {
namespace {

using testing::read_text;
using testing::TempDir;

/// Counts a Reducer's calls and doubles every tensor, as a sum over two equal processes would.
class DoublingReducer : public Reducer {
 public:
  void all_reduce(at::Tensor& tensor, Reduction) override {
    tensor.mul_(2);
    ++calls;
  }
  std::string broadcast_text(const std::string& text) override { return text; }
  int calls = 0;
};

/// A rank other than 0 in a run of two: rank 0 logged `names`, and its values are added
/// (sum) or compared (max, min) as its tensors would be.
class SecondRankReducer : public Reducer {
 public:
  explicit SecondRankReducer(std::string names) : names_(std::move(names)) {}
  void all_reduce(at::Tensor& tensor, Reduction reduction) override {
    seen.push_back(tensor.clone());
    const at::Tensor other = reduction == Reduction::sum ? at::tensor({6.0, 3.0}, at::kDouble)  // val/loss: 3 × 2.0
                                                         : at::scalar_tensor(4.0, at::kDouble);  // val/peak
    if (reduction == Reduction::sum) tensor.add_(other);
    if (reduction == Reduction::max) tensor.copy_(at::maximum(tensor, other));
  }
  std::string broadcast_text(const std::string&) override { return names_; }
  std::vector<at::Tensor> seen;

 private:
  std::string names_;
};

TEST_CASE("log mean weights the short last batch") {
  LoggerConnector logger(config::LoggerSettings{}, nullptr, false);
  // Batches of 32, 32 and a last batch of 4, with mean losses 1, 2 and 10.
  logger.log("val/loss", at::scalar_tensor(1.0), {false, true, Reduction::mean, false, 32});
  logger.log("val/loss", at::scalar_tensor(2.0), {false, true, Reduction::mean, false, 32});
  logger.log("val/loss", at::scalar_tensor(10.0), {false, true, Reduction::mean, false, 4});
  const Metrics metrics = logger.reduce("val");
  REQUIRE(metrics.size() == 1);
  CHECK(metrics[0].second == doctest::Approx((32.0 + 64.0 + 40.0) / 68.0));  // 2.0, not (1 + 2 + 10) / 3
}

TEST_CASE("log sum max and min reductions") {
  LoggerConnector logger(config::LoggerSettings{}, nullptr, false);
  for (const double value : {3.0, -1.0, 5.0}) {
    logger.log("train/count", at::scalar_tensor(value), {false, true, Reduction::sum});
    logger.log("train/peak", at::scalar_tensor(value), {false, true, Reduction::max});
    logger.log("train/low", at::scalar_tensor(value), {false, true, Reduction::min});
  }
  const Metrics metrics = logger.reduce("train");
  CHECK(find_metric(metrics, "train/count") == doctest::Approx(7.0));
  CHECK(find_metric(metrics, "train/peak") == doctest::Approx(5.0));
  CHECK(find_metric(metrics, "train/low") == doctest::Approx(-1.0));
  CHECK(logger.reduce("train").empty());
}

TEST_CASE("reduce keeps other stages") {
  LoggerConnector logger(config::LoggerSettings{}, nullptr, false);
  logger.log("train/loss", at::scalar_tensor(1.0));
  logger.log("val/loss", at::scalar_tensor(2.0));
  CHECK(logger.reduce("val").size() == 1);
  CHECK(find_metric(logger.reduce("train"), "train/loss") == doctest::Approx(1.0));
}

TEST_CASE("sync_dist metrics go through the reducer") {
  auto reducer = std::make_unique<DoublingReducer>();
  DoublingReducer* seen = reducer.get();
  LoggerConnector logger(config::LoggerSettings{}, std::move(reducer), false);
  logger.log("val/acc", at::scalar_tensor(0.5), {false, true, Reduction::mean, false, 10, true});
  logger.log("val/loss", at::scalar_tensor(0.5), {false, true, Reduction::mean, false, 10, false});
  logger.log("val/errors", at::scalar_tensor(3.0), {false, true, Reduction::sum, false, 1, true});
  const Metrics metrics = logger.reduce("val");
  CHECK(seen->calls == 2);
  CHECK(find_metric(metrics, "val/acc") == doctest::Approx(0.5));  // (2 × 5) / (2 × 10)
  CHECK(find_metric(metrics, "val/loss") == doctest::Approx(0.5));
  CHECK(find_metric(metrics, "val/errors") == doctest::Approx(6.0));
}

TEST_CASE("empty rank joins every reduction") {
  // Rank 0 logged a mean and a max; this rank read no validation batches.
  const std::string names = "val/loss\t" + std::to_string(static_cast<int>(Reduction::mean)) + "\nval/peak\t" +
                            std::to_string(static_cast<int>(Reduction::max)) + "\n";
  auto reducer = std::make_unique<SecondRankReducer>(names);
  SecondRankReducer* seen = reducer.get();
  LoggerConnector logger(config::LoggerSettings{}, std::move(reducer), false);
  const Metrics metrics = logger.reduce("val");
  REQUIRE(seen->seen.size() == 2);
  CHECK(at::equal(seen->seen[0], at::zeros({2}, at::kDouble)));  // (weighted sum, weight) = (0, 0)
  CHECK(std::isinf(seen->seen[1].item<double>()));
  CHECK(find_metric(metrics, "val/loss") == doctest::Approx(2.0));
  CHECK(find_metric(metrics, "val/peak") == doctest::Approx(4.0));
}

TEST_CASE("on_step and on_epoch values get separate names") {
  TempDir dir;
  config::LoggerSettings settings;
  settings.default_root_dir = dir.path().string();
  LoggerConnector logger(settings, nullptr, false);
  logger.begin_run("");
  const LogOptions both{true, true, Reduction::mean, true, 2};
  logger.log("train/acc", at::scalar_tensor(0.25), both);
  logger.log("train/acc", at::scalar_tensor(0.75), both);  // the newest value is the step value
  logger.log_step(0, 1, {}, "epoch=0");
  logger.log_epoch(0, 1, logger.reduce("train"), "epoch=0");
  CHECK(read_text(logger.run_dir() + "/metrics.csv") == "epoch,step,train/acc_step,train/acc\n0,1,0.75,\n0,1,,0.5\n");
}

TEST_CASE("plain progress line has no control characters") {
  ProgressDisplay display(false, stderr);
  display.start("train", 2, 20);
  const std::string line = display.line(5, {{"train/loss_step", 0.25}});
  CHECK(line.rfind("train epoch=2 batch=5/20 it/s=", 0) == 0);
  CHECK(line.find("train/loss_step=0.2500") != std::string::npos);
  for (const char c : line) CHECK(static_cast<unsigned char>(c) >= 0x20);
}

TEST_CASE("terminal progress redraws in place") {
  TempDir dir;
  const std::string path = (dir.path() / "tty").string();
  std::FILE* stream = std::fopen(path.c_str(), "w");
  REQUIRE(stream != nullptr);
  {
    ProgressDisplay display(true, stream);
    display.start("val", 0, 2);
    display.update(1, {});
    display.update(2, {});  // the last batch always draws
    display.clear();
  }
  std::fclose(stream);
  const std::string text = read_text(path);
  CHECK(text.rfind("\r\033[2Kval epoch=0 batch=1/2 ", 0) == 0);
  CHECK(text.find("\r\033[2Kval epoch=0 batch=2/2 ") != std::string::npos);
  REQUIRE(text.size() >= 5);
  CHECK(text.substr(text.size() - 5) == "\r\033[2K");
  CHECK(text.find('\n') == std::string::npos);
}

}  // namespace
}  // namespace trainer::logging
