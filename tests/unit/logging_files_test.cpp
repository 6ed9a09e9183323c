// The metric file formats: TFRecord framing and CRC-32C, the JSON lines and CSV loggers,
// and the LoggerConnector driving a list of loggers.

#include <ATen/Functions.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "logging/csv_logger.h"
#include "config/schema.h"
#include "logging/jsonl_logger.h"
#include "logging/logger_connector.h"
#include "logging/tensorboard_logger.h"
#include "logging/tfrecord.h"
#include "test_util.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::logging {
namespace {

using testing::read_text;
using testing::TempDir;

uint64_t read_le(const std::string& bytes, size_t offset, int num_bytes) {
  uint64_t value = 0;
  for (int i = 0; i < num_bytes; ++i) value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[offset + i])) << (8 * i);
  return value;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

config::LoggerSettings settings_in(const TempDir& dir, std::vector<std::string> loggers) {
  config::LoggerSettings settings;
  settings.default_root_dir = dir.path().string();
  settings.loggers.clear();
  for (const std::string& name : loggers) settings.loggers.push_back(config::Component{name, nullptr});
  return settings;
}

TEST_CASE("crc32c matches the standard check value") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
  const uint32_t crc = crc32c("123456789");
  CHECK(masked_crc32c("123456789") == ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST_CASE("protobuf writer encodes varints and keys") {
  ProtoWriter writer;
  writer.add_varint(1, 300);
  CHECK(writer.bytes() == std::string("\x08\xac\x02", 3));
  ProtoWriter text;
  text.add_bytes(2, "hi");
  CHECK(text.bytes() == std::string("\x12\x02hi", 4));
}

TEST_CASE("tfrecord writer frames each record") {
  TempDir dir;
  const std::string path = (dir.path() / "records").string();
  {
    TfRecordWriter writer(path);
    writer.write("abc");
  }
  const std::string bytes = read_text(path);
  REQUIRE(bytes.size() == 8 + 4 + 3 + 4);
  CHECK(read_le(bytes, 0, 8) == 3);
  CHECK(read_le(bytes, 8, 4) == masked_crc32c(bytes.substr(0, 8)));
  CHECK(bytes.substr(12, 3) == "abc");
  CHECK(read_le(bytes, 15, 4) == masked_crc32c("abc"));
}

TEST_CASE("jsonl logger writes one object per event") {
  TempDir dir;
  const std::string path = (dir.path() / "metrics.jsonl").string();
  {
    JsonlLogger jsonl(path);
    jsonl.log_hyperparams({"a: \"x\"\n", {{"a", "x"}}}, 1.5);
    jsonl.log_metrics({EventKind::step, 0, 10, 2.0, {{"train/loss_step", 0.5}}});
    jsonl.log_metrics({EventKind::epoch, 0, 20, 3.0, {{"val/loss", std::nan("")}}});
    jsonl.finalize("finished", {{"val/acc", 0.75}}, 4.0);
  }
  const std::vector<std::string> lines = split_lines(read_text(path));
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == R"({"event": "hparams", "time": 1.500, "hparams": {"a": "x"}, "config": "a: \"x\"\n"})");
  CHECK(lines[1] == R"({"event": "step", "epoch": 0, "step": 10, "time": 2.000, "metrics": {"train/loss_step": 0.5}})");
  CHECK(lines[2] == R"({"event": "epoch", "epoch": 0, "step": 20, "time": 3.000, "metrics": {"val/loss": null}})");
  CHECK(lines[3] == R"({"event": "end", "time": 4.000, "status": "finished", "metrics": {"val/acc": 0.75}})");
}

TEST_CASE("json quoting escapes control characters") {
  CHECK(config::json_string("a\"b\\c\n\x01") == R"("a\"b\\c\n\u0001")");
}

TEST_CASE("connector writes every configured logger") {
  TempDir dir;
  LoggerConnector logger(settings_in(dir, {"csv", "tensorboard", "jsonl"}), nullptr, false);
  logger.begin_run("trainer:\n  max_epochs: 2\n");
  logger.log_step(0, 5, {{"train/loss_step", 0.5}}, "epoch=0");
  logger.log_epoch(0, 10, {{"train/loss", 0.4}}, "epoch=0");
  logger.log_epoch(1, 20, {{"train/loss", 0.3}, {"val/acc", 0.9}}, "epoch=1");
  logger.finish_run("finished");

  CHECK(read_text(logger.run_dir() + "/metrics.csv") ==
        "epoch,step,train/loss_step,train/loss,val/acc\n0,5,0.5,,\n0,10,,0.4,\n1,20,,0.3,0.9\n");
  CHECK(read_text(logger.run_dir() + "/hparams.yaml") == "trainer:\n  max_epochs: 2\n");
  const std::vector<std::string> lines = split_lines(read_text(logger.run_dir() + "/metrics.jsonl"));
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].rfind(R"({"event": "hparams")", 0) == 0);
  CHECK(lines[4].find(R"("metrics": {"train/loss_step": 0.5, "train/loss": 0.3, "val/acc": 0.9})") !=
        std::string::npos);
  int event_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(logger.run_dir())) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) ++event_files;
  }
  CHECK(event_files == 1);
}

TEST_CASE("connector without loggers writes only config.yaml") {
  TempDir dir;
  LoggerConnector logger(settings_in(dir, {}), nullptr, false);
  logger.begin_run("a: 1\n");
  logger.log_epoch(0, 1, {{"val/acc", 1.0}}, "epoch=0");
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(logger.run_dir())) {
    files.push_back(entry.path().filename().string());
  }
  CHECK(files == std::vector<std::string>{"config.yaml"});
}

TEST_CASE("connector rejects an unknown logger before creating folders") {
  TempDir dir;
  config::LoggerSettings settings = settings_in(dir, {"wandb"});
  settings.default_root_dir = (dir.path() / "runs").string();
  LoggerConnector logger(settings, nullptr, false);
  CHECK_THROWS_WITH(logger.begin_run(""), "unknown logger 'wandb'");
  CHECK(!std::filesystem::exists(dir.path() / "runs"));
}

TEST_CASE("connector rejects a step that goes back") {
  TempDir dir;
  LoggerConnector logger(settings_in(dir, {"csv"}), nullptr, false);
  logger.begin_run("");
  logger.log_step(0, 10, {{"train/loss_step", 0.5}}, "");
  logger.log_epoch(0, 10, {{"train/loss", 0.5}}, "");  // an epoch event at its last step
  CHECK_THROWS_AS(logger.log_step(1, 9, {{"train/loss_step", 0.4}}, ""), std::logic_error);
}

TEST_CASE("flatten_yaml keys nested maps and lists") {
  const auto flat = flatten_yaml("trainer:\n  max_epochs: 3\n  callbacks:\n    - class_path: a\nseed: 1\n");
  const std::vector<std::pair<std::string, std::string>> expected{
      {"trainer.max_epochs", "3"}, {"trainer.callbacks.0.class_path", "a"}, {"seed", "1"}};
  CHECK(flat == expected);
}

}  // namespace
}  // namespace trainer::logging
