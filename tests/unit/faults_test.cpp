// Fault tolerance: checkpoint checksums and rejected files, the `last` fallback, the
// free-space check, stop signals, and regression inputs found by fuzzing.

#include <ATen/Functions.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize/output-archive.h>

#include <csignal>
#include <fstream>

#include "config/node.h"
#include "core/errors.h"
#include "core/signals.h"
#include "data/data_connector.h"
#include "data/idx.h"
#include "data/npy_file.h"
#include "idx_fixture.h"
#include "models/model.h"
#include "settings_fixture.h"
#include "test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/run.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer {
namespace {

using testing::TempDir;

std::string saved_checkpoint(const TempDir& dir, const std::string& name = "a.ckpt") {
  const std::string path = (dir.path() / name).string();
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  torch::nn::Linear model(3, 2);
  CheckpointInfo info;
  info.model_class = "mlp";
  save_checkpoint(path, *model, nullptr, info);
  return path;
}

void overwrite(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const CheckpointError& error) {
    return error.what();
  }
  return "no CheckpointError";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("checkpoint checksum rejects a flipped byte") {
  TempDir dir;
  const std::string path = saved_checkpoint(dir);
  std::string bytes = testing::read_text(path);
  bytes[bytes.size() / 2] ^= 0x01;
  overwrite(path, bytes);
  const std::string message = error_of([&] { verify_checkpoint(path); });
  CHECK(contains(message, "checkpoint '" + path + "' is corrupted: the CRC-32"));
  CHECK(contains(message, "use another checkpoint"));
}

TEST_CASE("checkpoint with a cut trailer is rejected") {
  TempDir dir;
  const std::string path = saved_checkpoint(dir);
  const std::string bytes = testing::read_text(path);
  overwrite(path, bytes.substr(0, bytes.size() - 10));
  CHECK(contains(error_of([&] { verify_checkpoint(path); }), "but no checksum trailer"));
}

TEST_CASE("checkpoint truncated at random points is rejected") {
  TempDir dir;
  const std::string path = saved_checkpoint(dir);
  const std::string bytes = testing::read_text(path);
  for (size_t keep : {size_t{0}, size_t{1}, size_t{100}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 30}) {
    overwrite(path, bytes.substr(0, keep));
    CAPTURE(keep);
    CHECK(contains(error_of([&] { verify_checkpoint(path); }), "checkpoint '" + path + "'"));
  }
}

TEST_CASE("checkpoint trailer with a wrong length is rejected") {
  TempDir dir;
  const std::string path = saved_checkpoint(dir);
  const std::string bytes = testing::read_text(path);
  // Drop archive bytes but keep the trailer: the recorded length no longer matches.
  overwrite(path, bytes.substr(0, 100) + bytes.substr(bytes.size() - 24));
  CHECK(contains(error_of([&] { verify_checkpoint(path); }), "is truncated or damaged: its trailer records"));
}

TEST_CASE("foreign files are not checkpoints") {
  TempDir dir;
  const std::string text = dir.write("notes.ckpt", "epoch: 3\n");
  CHECK(contains(error_of([&] { verify_checkpoint(text); }), "is not a readable checkpoint"));

  // A zip archive from LibTorch without trainer's records.
  torch::serialize::OutputArchive archive;
  archive.write("weights", at::ones({2}));
  const std::string foreign = (dir.path() / "foreign.ckpt").string();
  archive.save_to(foreign);
  CHECK(contains(error_of([&] { verify_checkpoint(foreign); }), "was not written by trainer"));
}

TEST_CASE("checkpoint from a newer format is rejected") {
  TempDir dir;
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string("trainer-checkpoint")));
  archive.write("format_version", c10::IValue(int64_t{99}));
  archive.write("libtorch_version", c10::IValue(std::string("9.9.9")));
  const std::string path = (dir.path() / "new.ckpt").string();
  archive.save_to(path);
  const std::string message = error_of([&] { verify_checkpoint(path); });
  CHECK(contains(message, "has format version 99 (written with LibTorch 9.9.9)"));
  CHECK(contains(message, "upgrade trainer"));
}

TEST_CASE("version 1 checkpoint without checksum loads") {
  TempDir dir;
  torch::nn::Linear model(3, 2);
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string("trainer-checkpoint")));
  archive.write("format_version", c10::IValue(int64_t{1}));
  archive.write("epoch", c10::IValue(int64_t{2}));
  archive.write("global_step", c10::IValue(int64_t{7}));
  archive.write("model_class", c10::IValue(std::string("mlp")));
  archive.write("config", c10::IValue(std::string("{}")));
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  const std::string path = (dir.path() / "v1.ckpt").string();
  archive.save_to(path);
  torch::nn::Linear loaded(3, 2);
  const CheckpointInfo info = load_checkpoint(path, *loaded, nullptr);
  CHECK(info.global_step == 7);
  CHECK(at::equal(loaded->weight, model->weight));
}

TEST_CASE("last falls back past a corrupted checkpoint") {
  TempDir dir;
  const std::string older = saved_checkpoint(dir, "exp/version_0/checkpoints/last.ckpt");
  const std::string newer = saved_checkpoint(dir, "exp/version_1/checkpoints/last.ckpt");
  std::filesystem::last_write_time(older, std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
  CHECK(resolve_checkpoint_path("last", dir.path().string(), "exp") == newer);

  std::string bytes = testing::read_text(newer);
  overwrite(newer, bytes.substr(0, bytes.size() / 2));
  CHECK(resolve_checkpoint_path("last", dir.path().string(), "exp") == older);

  // With every last.ckpt broken, another *.ckpt of the group is the fallback.
  overwrite(older, "garbage");
  const std::string top_k = saved_checkpoint(dir, "exp/version_0/checkpoints/epoch=1.ckpt");
  CHECK(resolve_checkpoint_path("last", dir.path().string(), "exp") == top_k);

  overwrite(top_k, "");
  const std::string message = error_of([&] { resolve_checkpoint_path("last", dir.path().string(), "exp"); });
  CHECK(contains(message, "--ckpt_path last: no valid checkpoint under"));
  CHECK(contains(message, newer));
}

TEST_CASE("free-space check rejects a folder that cannot hold checkpoints") {
  TempDir dir;
  CHECK_NOTHROW(check_free_space((dir.path() / "runs" / "new").string(), 1 << 20));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "runs"));  // nothing created

  const std::string file = dir.write("file", "x");
  CHECK(contains(error_of([&] { check_free_space(file + "/runs", 0); }), "is not a folder"));
  CHECK(contains(error_of([&] { check_free_space(dir.path().string(), uint64_t{1} << 61); }),
                 "not enough free space for checkpoints"));
}

TEST_CASE("requeue signal names parse") {
  CHECK(parse_signal_name("SIGUSR1") == SIGUSR1);
  CHECK(parse_signal_name("USR2") == SIGUSR2);
  CHECK(parse_signal_name("none") == 0);
  CHECK(parse_signal_name("12") == 12);
  CHECK_THROWS_AS(parse_signal_name("SIGTERM"), UsageError);
  CHECK_THROWS_AS(parse_signal_name("9"), UsageError);
  CHECK_THROWS_WITH_AS(parse_signal_name("SIGFOO"),
                       "invalid requeue signal 'SIGFOO'; use SIGUSR1, SIGUSR2, SIGHUP, a signal number, or none",
                       UsageError);
}

/// The tiny MNIST run of the trainer tests: 10 training batches of 8.
struct SignalRun {
  SignalRun() { testing::write_tiny_mnist(data, 100, 30); }
  std::string config(int64_t max_steps) const {
    return "seed_everything: 3\n"
           "model:\n  class_path: mlp\n  init_args: {hidden_sizes: [16]}\n"
           "data:\n  class_path: mnist\n  init_args: {root: " + data.path().string() +
           ", batch_size: 8, val_size: 20}\n"
           "trainer:\n  default_root_dir: " + runs.path().string() +
           "\n  num_threads: 1\n  deterministic: true\n  max_epochs: 2\n  max_steps: " + std::to_string(max_steps) +
           "\n";
  }
  TempDir data;
  TempDir runs;
};

TEST_CASE("stop signal saves a resumable checkpoint and exits with its code") {
  SignalRun run;
  RunOptions options;
  const RunResult whole = run_stage(Stage::fit, testing::settings_from_yaml(run.config(15)), options);

  request_stop(SIGTERM);
  ExitCode code = ExitCode::ok;
  try {
    run_stage(Stage::fit, testing::settings_from_yaml(run.config(15)), options);
  } catch (const InterruptedError& error) {
    code = error.code();
    CHECK(contains(error.what(), "SIGTERM received; saved '"));
  }
  reset_stop_request();
  CHECK(code == ExitCode::interrupted_term);

  // The newest run is the interrupted one: resume it to the end.
  options.ckpt_path = "last";
  const RunResult resumed = run_stage(Stage::fit, testing::settings_from_yaml(run.config(15)), options);
  const auto settings = testing::settings_from_yaml(run.config(15));
  data::DataConnector data(settings.data, 0);
  auto expected = models::model_registry().find("mlp")->build(*settings.model.args, data.spec());
  auto actual = models::model_registry().find("mlp")->build(*settings.model.args, data.spec());
  load_checkpoint(whole.checkpoint, *expected, nullptr);
  CHECK(load_checkpoint(resumed.checkpoint, *actual, nullptr).global_step == 15);
  for (size_t i = 0; i < expected->parameters().size(); ++i) {
    CHECK(at::equal(expected->parameters()[i], actual->parameters()[i]));
  }
}

TEST_CASE("idx parser rejects fuzzed headers") {
  // Four dimensions of 65536: their product, 2^64, wraps to 0 in size_t and used to
  // pass the size check with no data.
  const std::vector<uint8_t> overflow = {0, 0, 8, 4, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0};
  CHECK_THROWS_WITH_AS(data::parse_idx(overflow, "fuzz"),
                       "IDX file 'fuzz' declares dimensions [65536, 65536, 65536, 65536] whose product overflows",
                       DataError);
}

TEST_CASE("npy header parser rejects fuzzed headers") {
  // Found by npy_fuzz: a key with nothing after it, a shape without ')' and a
  // dimension too large for int64 used to throw std::out_of_range or read past the header.
  for (const std::string& dict : {std::string("{'descr':   "), std::string("{'descr': '<f4', 'shape': (2, 3"),
                                 std::string("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                             "(99999999999999999999999,), }")}) {
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(dict.size() & 0xff);
    bytes += static_cast<char>(dict.size() >> 8);
    bytes += dict;
    CAPTURE(dict);
    CHECK_THROWS_AS(data::parse_npy_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "fuzz.npy"),
                    DataError);
  }
}

}  // namespace
}  // namespace trainer
