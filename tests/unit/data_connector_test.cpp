// DataConnector: split, batching, shuffling and errors, on small generated IDX files.

#include <ATen/Functions.h>

#include "core/errors.h"
#include "data/data_connector.h"
#include "idx_fixture.h"
#include "settings_fixture.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::data {
namespace {

using testing::TempDir;

at::Tensor epoch_targets(Loader& loader, int64_t epoch) {
  loader.set_epoch(epoch);
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < loader.num_batches(); ++i) parts.push_back(loader.batch(i).targets);
  return at::cat(parts);
}

TEST_CASE("data connector splits validation by seed") {
  TempDir dir;
  testing::write_tiny_mnist(dir, 100, 30);
  const auto settings = testing::settings_from_yaml(testing::tiny_config(dir.path().string()));

  DataConnector data(settings.data, 7);
  CHECK(data.train_loader().num_samples() == 80);
  CHECK(data.val_loader().num_samples() == 20);
  CHECK(data.test_loader().num_samples() == 30);
  CHECK(data.spec().input_shape == std::vector<int64_t>{1, 28, 28});
  CHECK(data.spec().num_outputs == 10);

  DataConnector same_seed(settings.data, 7);
  DataConnector other_seed(settings.data, 8);
  const at::Tensor val = epoch_targets(data.val_loader(), 0);
  CHECK(at::equal(val, epoch_targets(same_seed.val_loader(), 0)));
  CHECK_FALSE(at::equal(val, epoch_targets(other_seed.val_loader(), 0)));
}

TEST_CASE("data connector batches are normalised floats") {
  TempDir dir;
  testing::write_tiny_mnist(dir, 100, 30);
  const auto settings = testing::settings_from_yaml(testing::tiny_config(dir.path().string()));
  DataConnector data(settings.data, 0);

  Loader& test = data.test_loader();
  CHECK(test.num_batches() == 4);  // 30 samples at batch size 8: the last batch has 6
  const Batch last = test.batch(3);
  CHECK(last.size() == 6);
  CHECK((last.inputs.sizes() == at::IntArrayRef{6, 1, 28, 28}));
  CHECK((last.inputs.scalar_type() == at::kFloat));
  // Sample 24 has label 4, so every pixel is 80/255, then standardised with MNIST's statistics.
  const double expected = (80.0 / 255.0 - 0.1307) / 0.3081;
  CHECK(last.inputs[0].mean().item<double>() == doctest::Approx(expected).epsilon(1e-5));
  CHECK(last.targets[0].item<int64_t>() == 4);
}

TEST_CASE("train order differs per epoch and repeats per seed") {
  TempDir dir;
  testing::write_tiny_mnist(dir, 100, 10);
  const auto settings = testing::settings_from_yaml(testing::tiny_config(dir.path().string()));
  DataConnector first(settings.data, 3);
  DataConnector second(settings.data, 3);

  const at::Tensor epoch0 = epoch_targets(first.train_loader(), 0);
  const at::Tensor epoch1 = epoch_targets(first.train_loader(), 1);
  CHECK_FALSE(at::equal(epoch0, epoch1));
  CHECK(at::equal(epoch1, epoch_targets(second.train_loader(), 1)));
  CHECK(at::equal(epoch0, epoch_targets(second.train_loader(), 0)));
  // Each epoch is a permutation of the same samples.
  CHECK(at::equal(std::get<0>(epoch0.sort()), std::get<0>(epoch1.sort())));
}

TEST_CASE("data connector missing folder is a data error") {
  const auto settings = testing::settings_from_yaml(testing::tiny_config("/nonexistent/mnist"));
  CHECK_THROWS_WITH_AS(DataConnector(settings.data, 0),
                       "dataset folder '/nonexistent/mnist' not found; set data.init_args.root", DataError);
}

TEST_CASE("data connector rejects val_size beyond the training set") {
  TempDir dir;
  testing::write_tiny_mnist(dir, 10, 10);
  const auto settings = testing::settings_from_yaml(testing::tiny_config(dir.path().string()));
  CHECK_THROWS_WITH_AS(DataConnector(settings.data, 0),
                       "data.init_args.val_size is 20 but the training set has only 10 samples; lower val_size",
                       DataError);
}

TEST_CASE("data connector rejects mismatched image and label counts") {
  TempDir dir;
  testing::write_tiny_mnist(dir, 50, 10, false);
  testing::write_bytes((dir.path() / "t10k-labels-idx1-ubyte").string(),
                       testing::idx_bytes({9}, std::vector<uint8_t>(9, 1)), false);
  const auto settings = testing::settings_from_yaml(testing::tiny_config(dir.path().string()));
  try {
    DataConnector data(settings.data, 0);
    FAIL("expected a DataError");
  } catch (const DataError& error) {
    CHECK(std::string(error.what()).find("has 10 images but") != std::string::npos);
    CHECK(std::string(error.what()).find("has 9 labels") != std::string::npos);
  }
}

}  // namespace
}  // namespace trainer::data
