// LoggerConnector and its CSV logger: run directories, late columns, weighted means.

#include <ATen/Functions.h>

#include <filesystem>

#include "logging/csv_logger.h"
#include "logging/logger_connector.h"
#include "test_util.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::logging {
namespace {

using testing::read_text;
using testing::TempDir;

TEST_CASE("csv logger adds late columns without losing rows") {
  TempDir dir;
  const std::string path = (dir.path() / "metrics.csv").string();
  CsvLogger csv(path);
  csv.log(0, 10, {{"train/loss", 0.5}});
  CHECK(read_text(path) == "epoch,step,train/loss\n0,10,0.5\n");
  csv.log(0, 20, {{"train/loss", 0.25}, {"val/acc", 0.75}});
  csv.log(1, 30, {{"val/acc", 1.0}});
  CHECK(read_text(path) == "epoch,step,train/loss,val/acc\n0,10,0.5,\n0,20,0.25,0.75\n1,30,,1\n");
}

TEST_CASE("logger connector creates the next version folder") {
  TempDir dir;
  config::LoggerSettings settings;
  settings.default_root_dir = (dir.path() / "runs").string();
  settings.run_name = "exp";

  LoggerConnector first(settings);
  first.begin_run("seed_everything: 1\n");
  CHECK(first.run_dir() == (dir.path() / "runs" / "exp" / "version_0").string());
  CHECK(read_text(first.run_dir() + "/config.yaml") == "seed_everything: 1\n");

  std::filesystem::create_directories(dir.path() / "runs" / "exp" / "version_7");
  LoggerConnector second(settings);
  second.begin_run("");
  CHECK(second.run_dir() == (dir.path() / "runs" / "exp" / "version_8").string());
}

TEST_CASE("logger connector writes epoch metrics to metrics.csv") {
  TempDir dir;
  config::LoggerSettings settings;
  settings.default_root_dir = dir.path().string();
  LoggerConnector logger(settings);
  logger.begin_run("");
  logger.log_epoch(0, 5, {{"val/acc", 0.5}}, "epoch=0");
  CHECK(read_text(logger.run_dir() + "/metrics.csv") == "epoch,step,val/acc\n0,5,0.5\n");
}

TEST_CASE("aggregation weights the short last batch") {
  MetricAccumulator accumulator;
  // Two batches: 4 samples with mean loss 1.0, then 2 samples with mean loss 4.0.
  accumulator.add("val/loss", at::scalar_tensor(1.0 * 4), 4);
  accumulator.add("val/loss", at::scalar_tensor(4.0 * 2), 2);
  accumulator.add("val/acc", at::scalar_tensor(3.0), 4);
  accumulator.add("val/acc", at::scalar_tensor(2.0), 2);
  const Metrics metrics = accumulator.compute_and_reset();
  REQUIRE(metrics.size() == 2);
  CHECK(metrics[0].first == "val/loss");
  CHECK(metrics[0].second == doctest::Approx(2.0));  // (4 + 8) / 6, not (1 + 4) / 2
  CHECK(metrics[1].second == doctest::Approx(5.0 / 6.0));
  CHECK(accumulator.empty());
}

}  // namespace
}  // namespace trainer::logging
