// A character-level text corpus cut into fixed-length sequences for next-token prediction.
// Tokens are Unicode code points of UTF-8 text; the vocabulary is the sorted set of code
// points in the training file.

#include <ATen/Functions.h>

#include <fstream>
#include <iterator>

#include "core/errors.h"
#include "data/dataset.h"

namespace trainer::data {
namespace {

constexpr int64_t kCodePoints = 0x110000;

struct TextArgs : config::Args, LoaderArgs {
  std::string path;
  std::string val_path;
  std::string test_path;
  int64_t sequence_length = 128;
  int64_t stride = 0;

  TextArgs() {
    batch_size = 64;
    val_size = {0.1, true};
  }

  void visit(config::FieldVisitor& v) override {
    v.field("path", path, {"UTF-8 text file to train on; its characters make the vocabulary.", {}, {}, {}, true});
    v.field("val_path", val_path,
            {"UTF-8 validation text; empty: hold out val_size sequences of path.", {}, {}, {}, true});
    v.field("test_path", test_path, {"UTF-8 test text; empty: hold out test_size sequences of path.", {}, {}, {}, true});
    v.field("sequence_length", sequence_length, {"Characters per training sequence.", {}, 1});
    v.field("stride", stride,
            {"Characters between the starts of consecutive sequences; 0 means sequence_length (no overlap).", {}, 0});
    visit_loader(v);
  }
};

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw DataError("cannot open text file '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

/// Decodes UTF-8 into code points. Throws DataError at the first invalid byte.
std::vector<int32_t> decode_utf8(const std::string& text, const std::string& path) {
  std::vector<int32_t> code_points;
  code_points.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    int length = 0;
    int32_t value = 0;
    if (lead < 0x80) {
      length = 1;
      value = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      value = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      value = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      value = lead & 0x07;
    }
    bool valid = length > 0 && i + static_cast<size_t>(length) <= text.size();
    for (int k = 1; valid && k < length; ++k) {
      const auto next = static_cast<uint8_t>(text[i + static_cast<size_t>(k)]);
      valid = (next & 0xC0) == 0x80;
      value = (value << 6) | (next & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF as well.
    static constexpr int32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    valid = valid && value >= kMinimum[length] && value < kCodePoints && !(value >= 0xD800 && value <= 0xDFFF);
    if (!valid) {
      throw DataError("text file '" + path + "' is not valid UTF-8 at byte " + std::to_string(i) +
                      "; convert it, e.g. with iconv -f latin1 -t utf-8");
    }
    code_points.push_back(value);
    i += static_cast<size_t>(length);
  }
  return code_points;
}

std::string describe_code_point(int64_t code_point) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "U+%04llX", static_cast<unsigned long long>(code_point));
  std::string text = hex;
  if (code_point >= 0x20 && code_point < 0x7F) text = "'" + std::string(1, static_cast<char>(code_point)) + "' (" + text + ")";
  return text;
}

/// Maps each code point to its vocabulary index; -1 where absent.
std::vector<int64_t> index_table(const at::Tensor& vocabulary) {
  std::vector<int64_t> table(kCodePoints, -1);
  const auto* code_points = vocabulary.data_ptr<int64_t>();
  for (int64_t i = 0; i < vocabulary.numel(); ++i) table[static_cast<size_t>(code_points[i])] = i;
  return table;
}

/// Encodes `text` with the vocabulary and cuts it into (sequences, length) input and
/// target views of one token tensor, the targets shifted by one position.
TensorDataset sequences(const std::vector<int32_t>& text, const std::vector<int64_t>& table, const TextArgs& args,
                        const std::string& path, const at::Tensor& vocabulary) {
  const int64_t length = args.sequence_length;
  const int64_t stride = args.stride > 0 ? args.stride : length;
  const auto count = static_cast<int64_t>(text.size());
  if (count < length + 1) {
    throw DataError("text file '" + path + "' has " + std::to_string(count) + " characters, fewer than " +
                    "sequence_length + 1 = " + std::to_string(length + 1) + "; lower sequence_length");
  }
  at::Tensor tokens = at::empty({count}, at::kLong);
  int64_t* out = tokens.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t id = table[static_cast<size_t>(text[static_cast<size_t>(i)])];
    if (id < 0) {
      throw DataError("text file '" + path + "' has the character " + describe_code_point(text[static_cast<size_t>(i)]) +
                      " at position " + std::to_string(i) + ", which the training file's vocabulary of " +
                      std::to_string(vocabulary.numel()) + " characters lacks");
    }
    out[i] = id;
  }
  TensorDataset split;
  split.inputs = tokens.slice(0, 0, count - 1).unfold(0, length, stride);
  split.targets = tokens.slice(0, 1, count).unfold(0, length, stride);
  return split;
}

/// Re-encodes the tokens with a saved vocabulary, so ids match the checkpoint's model.
void restore_vocabulary(const StateDict& saved, LoadedData& data) {
  const auto it = saved.find("vocabulary");
  if (it == saved.end()) return;
  const at::Tensor saved_vocabulary = it->second.to(at::kLong).contiguous();
  const at::Tensor current = data.state.at("vocabulary");
  const std::vector<int64_t> saved_index = index_table(saved_vocabulary);
  at::Tensor lookup = at::empty({current.numel()}, at::kLong);
  for (int64_t i = 0; i < current.numel(); ++i) {
    const int64_t code_point = current[i].item<int64_t>();
    const int64_t id = saved_index[static_cast<size_t>(code_point)];
    if (id < 0) {
      throw DataError("the text has the character " + describe_code_point(code_point) +
                      ", which the checkpoint's vocabulary lacks; use the text the checkpoint was trained on");
    }
    lookup[i] = id;
  }
  for (TensorDataset* split : {&data.train, &data.val, &data.test}) {
    if (split->size() == 0) continue;
    split->inputs = lookup.index_select(0, split->inputs.reshape(-1)).reshape(split->inputs.sizes());
    split->targets = lookup.index_select(0, split->targets.reshape(-1)).reshape(split->targets.sizes());
  }
  data.spec.num_outputs = saved_vocabulary.numel();
}

LoadedData load_text(const TextArgs& args) {
  if (args.path.empty()) throw DataError("data.init_args.path is required for 'text': name a UTF-8 text file");
  const std::vector<int32_t> train_text = decode_utf8(read_file(args.path), args.path);

  std::vector<bool> seen(kCodePoints, false);
  for (int32_t code_point : train_text) seen[static_cast<size_t>(code_point)] = true;
  std::vector<int64_t> code_points;
  for (int64_t c = 0; c < kCodePoints; ++c) {
    if (seen[static_cast<size_t>(c)]) code_points.push_back(c);
  }
  const at::Tensor vocabulary = at::tensor(code_points, at::kLong);
  const std::vector<int64_t> table = index_table(vocabulary);

  LoadedData data;
  data.train = sequences(train_text, table, args, args.path, vocabulary);
  for (const auto& [file, split] : {std::pair{&args.val_path, &data.val}, std::pair{&args.test_path, &data.test}}) {
    if (!file->empty()) *split = sequences(decode_utf8(read_file(*file), *file), table, args, *file, vocabulary);
  }
  data.spec.input_shape = {args.sequence_length};
  data.spec.task = Task::next_token;
  data.spec.num_outputs = vocabulary.numel();
  data.transform.to_float = false;
  data.state["vocabulary"] = vocabulary;
  data.restore = restore_vocabulary;
  return data;
}

}  // namespace

void register_text_dataset(DataRegistry& registry) {
  registry.add<TextArgs>("text", "Character-level UTF-8 text cut into sequences for next-token prediction",
                         [](const TextArgs& args) { return load_text(args); });
}

}  // namespace trainer::data
