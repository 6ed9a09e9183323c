// Character-level text: UTF-8 decoding, vocabulary, shifted sequences, saved
// vocabulary, broken files, and the fortunes corpus as a real check.

#include <ATen/Functions.h>

#include <filesystem>

#include "core/errors.h"
#include "data/data_connector.h"
#include "settings_fixture.h"
#include "test_util.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::data {
namespace {

using testing::TempDir;

DataConnector text_data(const std::string& init_args, uint64_t seed = 0) {
  const auto settings = testing::settings_from_yaml("model:\n  class_path: mlp\ndata:\n  class_path: text\n  init_args:\n" +
                                                    init_args);
  return DataConnector(settings.data, seed);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const DataError& error) {
    return error.what();
  }
  return "no DataError";
}

std::vector<int64_t> vocabulary_of(const DataConnector& data) {
  const at::Tensor vocabulary = data.state().at("dataset/vocabulary");
  return std::vector<int64_t>(vocabulary.data_ptr<int64_t>(), vocabulary.data_ptr<int64_t>() + vocabulary.numel());
}

TEST_CASE("text sequences predict the next character") {
  TempDir dir;
  const std::string path = dir.write("abc.txt", "abcabcabcab");  // 11 characters
  DataConnector data = text_data("    path: " + path +
                                 "\n    sequence_length: 4\n    val_size: 0\n    shuffle: false\n    batch_size: 8\n");
  CHECK(data.spec().task == Task::next_token);
  CHECK(data.spec().num_outputs == 3);
  CHECK(data.spec().input_shape == std::vector<int64_t>{4});
  CHECK(vocabulary_of(data) == std::vector<int64_t>{'a', 'b', 'c'});

  // (11 - 1) / 4 = 2 sequences without overlap: "abca" -> "bcab", "bcab" -> "cabc".
  const Batch batch = data.train_loader().batch(0);
  CHECK(batch.size() == 2);
  CHECK((batch.inputs.scalar_type() == at::kLong));
  CHECK(at::equal(batch.inputs, at::tensor({0, 1, 2, 0, 1, 2, 0, 1}, at::kLong).reshape({2, 4})));
  CHECK(at::equal(batch.targets, at::tensor({1, 2, 0, 1, 2, 0, 1, 2}, at::kLong).reshape({2, 4})));
}

TEST_CASE("text stride makes overlapping sequences") {
  TempDir dir;
  const std::string path = dir.write("a.txt", "0123456789");
  DataConnector data = text_data("    path: " + path + "\n    sequence_length: 3\n    stride: 1\n    val_size: 0\n");
  CHECK(data.train_loader().num_samples() == 7);  // starts 0..6; each needs 3 inputs and 1 more target
}

TEST_CASE("text decodes UTF-8 into code points") {
  TempDir dir;
  const std::string path = dir.write("u.txt", "h\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80h\xC3\xA9");  // h é € 😀 h é
  DataConnector data = text_data("    path: " + path + "\n    sequence_length: 2\n    val_size: 0\n");
  CHECK(vocabulary_of(data) == std::vector<int64_t>{'h', 0xE9, 0x20AC, 0x1F600});
}

TEST_CASE("text invalid UTF-8 and short files are data errors") {
  TempDir dir;
  const std::string latin1 = dir.write("l.txt", "caf\xE9 au lait");
  CHECK(error_of([&] { text_data("    path: " + latin1 + "\n    sequence_length: 2\n"); }) ==
        "text file '" + latin1 + "' is not valid UTF-8 at byte 3; convert it, e.g. with iconv -f latin1 -t utf-8");
  const std::string overlong = dir.write("o.txt", "ab\xC0\xAF");
  CHECK(error_of([&] { text_data("    path: " + overlong + "\n    sequence_length: 2\n"); }).find("at byte 2") !=
        std::string::npos);
  const std::string tiny = dir.write("t.txt", "abc");
  CHECK(error_of([&] { text_data("    path: " + tiny + "\n    sequence_length: 3\n"); }) ==
        "text file '" + tiny + "' has 3 characters, fewer than sequence_length + 1 = 4; lower sequence_length");
}

TEST_CASE("text validation characters come from the training vocabulary") {
  TempDir dir;
  const std::string train = dir.write("train.txt", "abababab");
  const std::string val = dir.write("val.txt", "abba");
  const std::string unknown = dir.write("unknown.txt", "abz!");
  DataConnector data = text_data("    path: " + train + "\n    val_path: " + val + "\n    sequence_length: 3\n");
  CHECK(data.val_loader().num_samples() == 1);
  CHECK(error_of([&] { text_data("    path: " + train + "\n    val_path: " + unknown + "\n    sequence_length: 3\n"); }) ==
        "text file '" + unknown +
            "' has the character 'z' (U+007A) at position 2, which the training file's vocabulary of 2 characters lacks");
}

TEST_CASE("text saved vocabulary re-encodes the tokens") {
  TempDir dir;
  const std::string saved_text = dir.write("s.txt", "abcdabcd");
  const std::string other_text = dir.write("o.txt", "cdcdcdcd");
  const StateDict saved = text_data("    path: " + saved_text + "\n    sequence_length: 3\n    val_size: 0\n").state();

  DataConnector other = text_data("    path: " + other_text + "\n    sequence_length: 3\n    val_size: 0\n"
                                  "    shuffle: false\n");
  CHECK(other.spec().num_outputs == 2);
  CHECK(other.train_loader().batch(0).inputs[0][0].item<int64_t>() == 0);  // 'c' alone is id 0
  other.load_state(saved);
  CHECK(other.spec().num_outputs == 4);
  CHECK(at::equal(other.train_loader().batch(0).inputs[0], at::tensor({2, 3, 2}, at::kLong)));
  CHECK(vocabulary_of(other) == std::vector<int64_t>{'a', 'b', 'c', 'd'});

  StateDict narrow = saved;
  narrow["dataset/vocabulary"] = at::tensor({'a', 'b', 'c'}, at::kLong);
  CHECK(error_of([&] { other.load_state(narrow); }) ==
        "the text has the character 'd' (U+0064), which the checkpoint's vocabulary lacks; use the text the "
        "checkpoint was trained on");
}

TEST_CASE("text fortunes corpus loads") {
  const std::string path = "/usr/share/games/fortunes/fortunes";
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: " << path << " not found (install the fortunes package)");
    return;
  }
  DataConnector data = text_data("    path: " + path + "\n    sequence_length: 64\n    batch_size: 32\n", 1);
  const int64_t vocabulary = data.spec().num_outputs;
  CHECK(vocabulary > 60);
  CHECK(vocabulary < 200);
  CHECK(data.train_loader().num_samples() > 300);
  CHECK(data.val_loader().num_samples() > 30);

  Loader& train = data.train_loader();
  train.set_epoch(0);
  const Batch batch = train.batch(0);
  CHECK((batch.inputs.sizes() == at::IntArrayRef{32, 64}));
  CHECK(batch.inputs.max().item<int64_t>() < vocabulary);
  // Targets are the inputs shifted by one character.
  CHECK(at::equal(batch.inputs.slice(1, 1), batch.targets.slice(1, 0, 63)));
}

}  // namespace
}  // namespace trainer::data
