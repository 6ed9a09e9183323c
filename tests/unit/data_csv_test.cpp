// CSV datasets: header styles, column choice, label encoding, train-only
// standardisation, broken files, and scikit-learn's bundled CSVs.

#include <ATen/Functions.h>

#include <filesystem>

#include "core/errors.h"
#include "data/csv_table.h"
#include "data/data_connector.h"
#include "settings_fixture.h"
#include "test_util.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::data {
namespace {

using testing::TempDir;

const std::string kSklearnData = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";

/// Builds a DataConnector over the csv dataset with `init_args` (YAML lines indented by four spaces).
DataConnector csv_data(const std::string& init_args, uint64_t seed = 0) {
  const auto settings =
      testing::settings_from_yaml("model:\n  class_path: mlp\ndata:\n  class_path: csv\n  init_args:\n" + init_args);
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

at::Tensor epoch_targets(Loader& loader) {
  loader.set_epoch(0);
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < loader.num_batches(); ++i) parts.push_back(loader.batch(i).targets);
  return at::cat(parts);
}

/// Ten rows: two numeric features, a text column and a string label.
std::string flowers_csv() {
  std::string text = "length,width,\"note, quoted\",species\r\n";
  for (int i = 0; i < 10; ++i) {
    text += std::to_string(i) + "," + std::to_string(10 * i) + ",\"x, y\"," + (i % 2 ? "rose" : "lily") + "\r\n";
  }
  return text;
}

TEST_CASE("csv split lines handles quotes") {
  std::vector<std::string> fields;
  CHECK(split_csv_line("a, \"b,c\" ,\"say \"\"hi\"\"\"", ',', fields));
  CHECK(fields == std::vector<std::string>{"a", "b,c", "say \"hi\""});
  CHECK_FALSE(split_csv_line("a,\"open", ',', fields));
}

TEST_CASE("csv header auto-detection") {
  TempDir dir;
  const std::string sklearn = dir.write("s.csv", "3,2,a,b\n1,2,0\n3,4,1\n5,6,1\n");
  const std::string names = dir.write("n.csv", "x,y,label\n1,2,0\n");
  const std::string none = dir.write("p.csv", "1,2,0\n3,4,1\n");
  const std::string counts_differ = dir.write("c.csv", "5,2,1\n1,2,0\n3,4,1\n");
  CHECK(read_csv(sklearn, ',', CsvHeader::auto_detect).header == CsvHeader::sklearn);
  CHECK(read_csv(sklearn, ',', CsvHeader::auto_detect).class_names == std::vector<std::string>{"a", "b"});
  CHECK(read_csv(names, ',', CsvHeader::auto_detect).header == CsvHeader::names);
  CHECK(read_csv(none, ',', CsvHeader::auto_detect).header == CsvHeader::none);
  CHECK(read_csv(none, ',', CsvHeader::auto_detect).rows.size() == 2);
  // Two leading integers whose counts do not match the rows are data, not a sklearn header.
  CHECK(read_csv(counts_differ, ',', CsvHeader::auto_detect).header == CsvHeader::none);
}

TEST_CASE("csv named columns and string labels") {
  TempDir dir;
  const std::string path = dir.write("flowers.csv", flowers_csv());
  DataConnector data = csv_data("    path: " + path +
                                "\n    features: width,length\n    target: species\n    val_size: 0\n"
                                "    standardize: false\n    shuffle: false\n    batch_size: 4\n");
  CHECK(data.spec().task == Task::classification);
  CHECK(data.spec().num_outputs == 2);
  CHECK(data.spec().input_shape == std::vector<int64_t>{2});
  const Batch batch = data.train_loader().batch(1);
  // Row 5 is (length 5, width 50, rose); features come in the configured order.
  CHECK(batch.inputs[1][0].item<float>() == 50.0f);
  CHECK(batch.inputs[1][1].item<float>() == 5.0f);
  // Classes sort as text: lily = 0, rose = 1.
  CHECK(batch.targets[1].item<int64_t>() == 1);
  CHECK(batch.targets[0].item<int64_t>() == 0);
  CHECK(decode_names(data.state().at("dataset/classes")) == std::vector<std::string>{"lily", "rose"});
}

TEST_CASE("csv integer labels sort numerically") {
  TempDir dir;
  const std::string path = dir.write("a.csv", "x,label\n1,10\n2,9\n3,100\n4,9\n");
  DataConnector data = csv_data("    path: " + path + "\n    val_size: 0\n    shuffle: false\n");
  CHECK(decode_names(data.state().at("dataset/classes")) == std::vector<std::string>{"9", "10", "100"});
  CHECK(at::equal(data.train_loader().batch(0).targets, at::tensor({1, 0, 2, 0}, at::kLong)));
}

TEST_CASE("csv regression with two targets") {
  TempDir dir;
  const std::string path = dir.write("r.csv", "a,b,y1,y2\n1,2,0.5,1.5\n3,4,2.5,3.5\n5,6,4.5,5.5\n");
  DataConnector data = csv_data("    path: " + path +
                                "\n    target: y1,y2\n    task: regression\n    val_size: 0\n    shuffle: false\n");
  CHECK(data.spec().task == Task::regression);
  CHECK(data.spec().num_outputs == 2);
  const Batch batch = data.train_loader().batch(0);
  CHECK((batch.targets.sizes() == at::IntArrayRef{3, 2}));
  CHECK((batch.targets.scalar_type() == at::kFloat));
  CHECK(batch.targets[2][1].item<float>() == 5.5f);
}

TEST_CASE("csv standardisation uses the training split only") {
  TempDir dir;
  std::string text = "x,label\n";
  for (int i = 0; i < 20; ++i) text += std::to_string(i * i) + "," + std::to_string(i % 2) + "\n";
  const std::string path = dir.write("s.csv", text);
  DataConnector data = csv_data("    path: " + path + "\n    val_size: 5\n    test_size: 5\n    batch_size: 100\n", 3);

  Loader& train = data.train_loader();
  train.set_epoch(0);
  const at::Tensor train_inputs = train.batch(0).inputs;
  CHECK(train_inputs.size(0) == 10);
  CHECK(train_inputs.mean().item<double>() == doctest::Approx(0.0).epsilon(1e-5));
  CHECK(train_inputs.std(/*unbiased=*/false).item<double>() == doctest::Approx(1.0).epsilon(1e-5));
  // The held-out splits use the training statistics, so they are not standardised to exactly 0 and 1.
  const at::Tensor val_inputs = data.val_loader().batch(0).inputs;
  CHECK(std::abs(val_inputs.mean().item<double>()) > 1e-3);

  const StateDict state = data.state();
  CHECK(state.count("transform/mean") == 1);
  CHECK(state.count("transform/std") == 1);
}

TEST_CASE("csv state restores classes and standardisation") {
  TempDir dir;
  const std::string saved_path = dir.write("a.csv", "x,label\n1,cat\n2,dog\n3,emu\n4,cat\n");
  // The same animals without 'cat': on its own it would number dog = 0, emu = 1.
  const std::string other_path = dir.write("b.csv", "x,label\n10,dog\n20,emu\n");
  const StateDict saved = csv_data("    path: " + saved_path + "\n    val_size: 0\n").state();

  DataConnector other = csv_data("    path: " + other_path + "\n    val_size: 0\n    shuffle: false\n");
  CHECK(other.spec().num_outputs == 2);
  other.load_state(saved);
  CHECK(other.spec().num_outputs == 3);
  const Batch batch = other.train_loader().batch(0);
  CHECK(at::equal(batch.targets, at::tensor({1, 2}, at::kLong)));
  CHECK(at::allclose(other.state().at("transform/mean"), saved.at("transform/mean")));
  // Standardised with the saved statistics (mean 2.5 of the first file), not its own.
  CHECK(batch.inputs[0][0].item<double>() > 5.0);

  const StateDict narrow = other.state();
  DataConnector wide = csv_data("    path: " + saved_path + "\n    val_size: 0\n");
  StateDict two_classes = narrow;
  two_classes["dataset/classes"] = encode_names({"dog", "emu"});
  CHECK(error_of([&] { wide.load_state(two_classes); }) ==
        "class 'cat' of the CSV data is not among the checkpoint's classes 'dog', 'emu'; "
        "use the data the checkpoint was trained on");
}

TEST_CASE("csv explicit validation and test files") {
  TempDir dir;
  const std::string train = dir.write("train.csv", "x,label\n1,a\n2,b\n3,a\n4,b\n");
  const std::string val = dir.write("val.csv", "x,label\n5,b\n");
  const std::string test = dir.write("test.csv", "x,label\n6,a\n7,b\n");
  DataConnector data = csv_data("    path: " + train + "\n    val_path: " + val + "\n    test_path: " + test + "\n");
  CHECK(data.train_loader().num_samples() == 4);
  CHECK(data.val_loader().num_samples() == 1);
  CHECK(data.test_loader().num_samples() == 2);

  const std::string unseen = dir.write("unseen.csv", "x,label\n5,c\n");
  CHECK(error_of([&] { csv_data("    path: " + train + "\n    val_path: " + unseen + "\n"); }) ==
        "CSV file '" + unseen + "' line 2, column 'label': label 'c' is not one of the 2 classes of the "
        "training file: 'a', 'b'");
  const std::string renamed = dir.write("renamed.csv", "y,label\n5,a\n");
  CHECK(error_of([&] { csv_data("    path: " + train + "\n    test_path: " + renamed + "\n"); }) ==
        "CSV file '" + renamed + "' has columns 'y', 'label' but the training file '" + train + "' has 'x', 'label'");
}

TEST_CASE("csv split by fraction is seeded") {
  TempDir dir;
  std::string text = "x,label\n";
  for (int i = 0; i < 40; ++i) text += std::to_string(i) + "," + std::to_string(i) + "\n";
  const std::string path = dir.write("f.csv", text);
  const std::string args = "    path: " + path + "\n    val_size: 0.25\n    test_size: 0.1\n    task: regression\n"
                           "    target: label\n    standardize: false\n";
  DataConnector first = csv_data(args, 1);
  DataConnector same = csv_data(args, 1);
  DataConnector other = csv_data(args, 2);
  CHECK(first.train_loader().num_samples() == 26);
  CHECK(first.val_loader().num_samples() == 10);
  CHECK(first.test_loader().num_samples() == 4);
  CHECK(at::equal(epoch_targets(first.val_loader()), epoch_targets(same.val_loader())));
  CHECK(at::equal(epoch_targets(first.test_loader()), epoch_targets(same.test_loader())));
  CHECK_FALSE(at::equal(epoch_targets(first.val_loader()), epoch_targets(other.val_loader())));

  // The three splits partition the file.
  const at::Tensor all = at::cat({epoch_targets(first.train_loader()), epoch_targets(first.val_loader()),
                                  epoch_targets(first.test_loader())});
  CHECK(at::equal(std::get<0>(all.flatten().sort()), at::arange(40, at::kFloat)));
}

TEST_CASE("csv unknown column suggests the nearest name") {
  TempDir dir;
  const std::string path = dir.write("flowers.csv", flowers_csv());
  CHECK(error_of([&] { csv_data("    path: " + path + "\n    target: specie\n"); }) ==
        "data.init_args.target: column 'specie' not found in CSV file '" + path +
        "'; its columns are 'length', 'width', 'note, quoted', 'species'; did you mean 'species'?");
}

TEST_CASE("csv broken files are clear data errors") {
  TempDir dir;
  const std::string missing_value = dir.write("m.csv", "x,y,label\n1,2,a\n3,,b\n");
  CHECK(error_of([&] { csv_data("    path: " + missing_value + "\n    val_size: 0\n"); }) ==
        "CSV file '" + missing_value +
            "' line 3, column 'y': missing value; fix the file or leave the column out of data.init_args.features");

  const std::string text_feature = dir.write("t.csv", "x,label\n1,a\nabc,b\n");
  CHECK(error_of([&] { csv_data("    path: " + text_feature + "\n    val_size: 0\n"); }) ==
        "CSV file '" + text_feature +
            "' line 3, column 'x': 'abc' is not a finite number; fix the file or leave the column out of "
            "data.init_args.features");

  const std::string short_row = dir.write("s.csv", "x,y,label\n1,2,a\n3,4\n");
  CHECK(error_of([&] { csv_data("    path: " + short_row + "\n"); }) ==
        "CSV file '" + short_row +
            "' line 3 has 2 fields but line 2 has 3; is the file truncated or the delimiter wrong?");

  // A sklearn file cut short no longer matches its counts.
  const std::string truncated = dir.write("cut.csv", "3,2,a,b\n1,2,0\n3,4,1\n");
  CHECK(error_of([&] { csv_data("    path: " + truncated + "\n    header: sklearn\n"); })
            .find("does not match its sklearn header '3,2,a,b'") != std::string::npos);

  const std::string bad_label = dir.write("bad.csv", "2,1,a,b\n1,0\n3,2\n");
  CHECK(error_of([&] { csv_data("    path: " + bad_label + "\n    val_size: 0\n"); }) ==
        "CSV file '" + bad_label + "' line 3, column '1': label '2' is not a class index in [0, 2) as the "
        "sklearn header declares");

  CHECK(error_of([&] { csv_data("    path: " + dir.path().string() + "/absent.csv\n"); }) ==
        "cannot open CSV file '" + dir.path().string() + "/absent.csv'");
  CHECK(error_of([&] { csv_data("    path: ''\n"); }) ==
        "data.init_args.path is required for 'csv': name the training CSV file");
  const std::string empty = dir.write("e.csv", "");
  CHECK(error_of([&] { csv_data("    path: " + empty + "\n"); }) == "CSV file '" + empty + "' is empty");
}

TEST_CASE("csv sklearn bundled datasets load") {
  struct Case {
    const char* file;
    int64_t samples;
    int64_t features;
    std::vector<std::string> classes;
  };
  const std::vector<Case> cases = {
      {"iris.csv", 150, 4, {"setosa", "versicolor", "virginica"}},
      {"wine_data.csv", 178, 13, {"class_0", "class_1", "class_2"}},
      {"breast_cancer.csv", 569, 30, {"malignant", "benign"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.file);
    const std::string path = kSklearnData + c.file;
    if (!std::filesystem::exists(path)) {
      MESSAGE("skipped: " << path << " not found (install python3-sklearn)");
      continue;
    }
    DataConnector data = csv_data("    path: " + path + "\n    val_size: 0.2\n    test_size: 0.2\n");
    CHECK(data.spec().input_shape == std::vector<int64_t>{c.features});
    CHECK(data.spec().num_outputs == static_cast<int64_t>(c.classes.size()));
    CHECK(decode_names(data.state().at("dataset/classes")) == c.classes);
    const int64_t held_out = static_cast<int64_t>(0.2 * static_cast<double>(c.samples));
    CHECK(data.val_loader().num_samples() == held_out);
    CHECK(data.test_loader().num_samples() == held_out);
    CHECK(data.train_loader().num_samples() == c.samples - 2 * held_out);
    // Every class occurs in the training split.
    const at::Tensor counts = at::bincount(epoch_targets(data.train_loader()));
    CHECK(counts.numel() == static_cast<int64_t>(c.classes.size()));
    CHECK(counts.min().item<int64_t>() > 0);
  }
}

}  // namespace
}  // namespace trainer::data
