// Loader, sampler and prefetching: reproducible order and augmentation, sharding,
// exact-once evaluation, resume mid-epoch, and errors raised on worker threads.

#include <ATen/Functions.h>
#include <c10/util/Exception.h>

#include <set>

#include "core/errors.h"
#include "data/loader.h"
#include "data/sampler.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::data {
namespace {

/// `count` samples whose input value and target both equal the sample index.
TensorDataset numbered(int64_t count) {
  return {at::arange(count, at::kFloat).unsqueeze(1), at::arange(count, at::kLong)};
}

/// `count` 1x4x4 images whose pixels are all distinct, targets the sample index.
TensorDataset images(int64_t count) {
  return {at::arange(count * 16, at::kFloat).reshape({count, 1, 4, 4}), at::arange(count, at::kLong)};
}

LoaderOptions training(int64_t batch_size, int64_t num_workers = 0) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.training = true;
  options.shuffle = true;
  options.num_workers = num_workers;
  return options;
}

std::vector<Batch> read_epoch(Loader& loader, int64_t epoch, int64_t first = 0) {
  loader.set_epoch(epoch);
  std::vector<Batch> batches;
  for (int64_t i = first; i < loader.num_batches(); ++i) batches.push_back(loader.batch(i));
  return batches;
}

at::Tensor all_targets(const std::vector<Batch>& batches) {
  std::vector<at::Tensor> parts;
  for (const Batch& batch : batches) parts.push_back(batch.targets);
  return parts.empty() ? at::empty({0}, at::kLong) : at::cat(parts);
}

std::set<int64_t> as_set(const at::Tensor& values) {
  std::set<int64_t> result;
  for (int64_t i = 0; i < values.numel(); ++i) result.insert(values[i].item<int64_t>());
  return result;
}

TEST_CASE("loader shuffle differs per epoch and repeats per seed") {
  Loader first(numbered(50), training(8), 11, {});
  Loader again(numbered(50), training(8), 11, {});
  Loader other(numbered(50), training(8), 12, {});

  const at::Tensor epoch0 = all_targets(read_epoch(first, 0));
  const at::Tensor epoch1 = all_targets(read_epoch(first, 1));
  CHECK(epoch0.numel() == 50);
  CHECK_FALSE(at::equal(epoch0, epoch1));
  CHECK(at::equal(epoch1, all_targets(read_epoch(again, 1))));
  CHECK(at::equal(epoch0, all_targets(read_epoch(again, 0))));
  CHECK_FALSE(at::equal(epoch0, all_targets(read_epoch(other, 0))));
  CHECK(at::equal(std::get<0>(epoch0.sort()), at::arange(50, at::kLong)));
}

TEST_CASE("loader drop_last skips the short batch") {
  LoaderOptions options = training(8);
  options.drop_last = true;
  Loader loader(numbered(50), options, 0, {});
  CHECK(loader.num_batches() == 6);
  CHECK(all_targets(read_epoch(loader, 0)).numel() == 48);

  options.drop_last = false;
  Loader keep(numbered(50), options, 0, {});
  CHECK(keep.num_batches() == 7);
  CHECK(read_epoch(keep, 0).back().size() == 2);
}

TEST_CASE("loader evaluation ignores shuffle and drop_last") {
  LoaderOptions options = training(8);
  options.training = false;
  options.drop_last = true;
  Loader loader(numbered(50), options, 0, {});
  CHECK(loader.num_batches() == 7);
  CHECK(at::equal(all_targets(read_epoch(loader, 3)), at::arange(50, at::kLong)));
}

TEST_CASE("loader workers return the same batches in order") {
  for (const int64_t workers : {1, 2, 3}) {
    CAPTURE(workers);
    Loader serial(numbered(203), training(16), 5, {});
    Loader parallel(numbered(203), training(16, workers), 5, {});
    for (const int64_t epoch : {0, 1}) {
      const std::vector<Batch> expected = read_epoch(serial, epoch);
      const std::vector<Batch> actual = read_epoch(parallel, epoch);
      REQUIRE(actual.size() == expected.size());
      for (size_t i = 0; i < actual.size(); ++i) {
        CHECK(at::equal(actual[i].inputs, expected[i].inputs));
        CHECK(at::equal(actual[i].targets, expected[i].targets));
      }
    }
  }
}

TEST_CASE("loader workers serve out-of-order reads") {
  Loader serial(numbered(100), training(10), 5, {});
  Loader parallel(numbered(100), training(10, 2), 5, {});
  serial.set_epoch(2);
  parallel.set_epoch(2);
  for (const int64_t index : {3, 4, 0, 9, 1}) {
    CAPTURE(index);
    CHECK(at::equal(parallel.batch(index).targets, serial.batch(index).targets));
  }
  // Leaving an epoch half read and starting another joins the old workers.
  parallel.set_epoch(3);
  serial.set_epoch(3);
  CHECK(at::equal(parallel.batch(0).targets, serial.batch(0).targets));
}

TEST_CASE("loader rethrows a worker's error to the reader") {
  // Targets shorter than inputs: indexing a target past 9 fails on a worker thread.
  TensorDataset broken{at::arange(40, at::kFloat).unsqueeze(1), at::arange(10, at::kLong)};
  Loader loader(broken, training(10, 2), 0, {});
  loader.set_epoch(0);
  bool thrown = false;
  try {
    for (int64_t i = 0; i < loader.num_batches(); ++i) loader.batch(i);
  } catch (const c10::Error&) {
    thrown = true;
  }
  CHECK(thrown);
}

TEST_CASE("loader rejects a batch index outside the epoch") {
  Loader loader(numbered(10), training(4), 0, {});
  CHECK_THROWS_AS(loader.batch(3), std::out_of_range);
  CHECK_THROWS_AS(loader.batch(-1), std::out_of_range);
}

TEST_CASE("augmentation differs per epoch and sample and repeats per seed") {
  Transform transform;
  transform.crop_padding = 1;
  transform.flip_probability = 0.5;
  Loader loader(images(64), training(64), 9, transform);
  Loader again(images(64), training(64), 9, transform);

  const Batch epoch0 = read_epoch(loader, 0).front();
  const Batch epoch1 = read_epoch(loader, 1).front();
  CHECK(at::equal(epoch0.inputs, read_epoch(again, 0).front().inputs));

  // Put samples back in index order to compare the same image across epochs.
  const at::Tensor images0 = epoch0.inputs.index_select(0, std::get<1>(epoch0.targets.sort()));
  const at::Tensor images1 = epoch1.inputs.index_select(0, std::get<1>(epoch1.targets.sort()));
  CHECK_FALSE(at::equal(images0, images1));

  // An unaugmented image's top-left pixel is 16 * index; crops and flips move it for some samples only.
  const at::Tensor corner = images0.select(1, 0).select(1, 0).select(1, 0);
  const at::Tensor unmoved = corner.eq(at::arange(64, at::kFloat).mul(16));
  CHECK(unmoved.any().item<bool>());
  CHECK_FALSE(unmoved.all().item<bool>());
  // Zero padding shows up as zeros inside a crop.
  CHECK(images0.eq(0).sum().item<int64_t>() > 1);
}

TEST_CASE("evaluation batches are not augmented") {
  Transform transform;
  transform.crop_padding = 2;
  transform.flip_probability = 1.0;
  LoaderOptions options = training(8);
  options.training = false;
  Loader loader(images(8), options, 0, transform);
  CHECK(at::equal(loader.batch(0).inputs, images(8).inputs));
}

TEST_CASE("random crop keeps shape and content of the padded window") {
  Transform transform;
  transform.crop_padding = 3;
  Loader loader(images(32), training(32), 4, transform);
  const Batch batch = read_epoch(loader, 0).front();
  CHECK((batch.inputs.sizes() == at::IntArrayRef{32, 1, 4, 4}));
  // Every value is either padding or a pixel of the sample's own image.
  for (int64_t i = 0; i < 32; ++i) {
    const int64_t index = batch.targets[i].item<int64_t>();
    const at::Tensor values = batch.inputs[i].flatten();
    const at::Tensor own = values.ge(16.0 * index).logical_and(values.lt(16.0 * (index + 1)));
    CHECK(own.logical_or(values.eq(0)).all().item<bool>());
  }
}

TEST_CASE("resume mid-epoch repeats the uninterrupted batches") {
  Transform transform;
  transform.crop_padding = 1;
  transform.flip_probability = 0.5;
  for (const int64_t workers : {0, 2}) {
    CAPTURE(workers);
    Loader uninterrupted(images(90), training(8, workers), 21, transform);
    const std::vector<Batch> expected = read_epoch(uninterrupted, 2);

    Loader before(images(90), training(8, workers), 21, transform);
    before.set_epoch(2);
    for (int64_t i = 0; i < 5; ++i) before.batch(i);
    const LoaderState saved = before.state();
    CHECK(saved.epoch == 2);
    CHECK(saved.next_batch == 5);

    Loader resumed(images(90), training(8, workers), 21, transform);
    resumed.load_state(saved);
    CHECK(resumed.state().next_batch == 5);
    for (int64_t i = saved.next_batch; i < resumed.num_batches(); ++i) {
      const Batch batch = resumed.batch(i);
      CHECK(at::equal(batch.inputs, expected[static_cast<size_t>(i)].inputs));
      CHECK(at::equal(batch.targets, expected[static_cast<size_t>(i)].targets));
    }
  }
}

TEST_CASE("loader state from another seed is rejected") {
  Loader loader(numbered(10), training(4), 1, {});
  LoaderState state;
  state.seed = 2;
  CHECK_THROWS_AS(loader.load_state(state), CheckpointError);
}

TEST_CASE("training shards are disjoint with equal counts") {
  const int64_t samples = 103;
  const int64_t world = 4;
  for (const int64_t epoch : {0, 1}) {
    CAPTURE(epoch);
    std::set<int64_t> seen;
    int64_t total = 0;
    std::vector<int64_t> batch_counts;
    for (int64_t rank = 0; rank < world; ++rank) {
      LoaderOptions options = training(8);
      options.shard = {rank, world};
      Loader loader(numbered(samples), options, 3, {});
      CHECK(loader.num_samples() == 25);  // 103 / 4, remainder dropped
      batch_counts.push_back(loader.num_batches());
      const at::Tensor targets = all_targets(read_epoch(loader, epoch));
      const std::set<int64_t> part = as_set(targets);
      CHECK(static_cast<int64_t>(part.size()) == targets.numel());
      for (int64_t index : part) CHECK(seen.insert(index).second);
      total += targets.numel();
    }
    CHECK(total == 100);
    CHECK(std::equal(batch_counts.begin() + 1, batch_counts.end(), batch_counts.begin()));
  }
}

TEST_CASE("evaluation shards count every sample exactly once") {
  for (const int64_t world : {1, 2, 3, 7}) {
    CAPTURE(world);
    std::vector<int64_t> counts(50, 0);
    for (int64_t rank = 0; rank < world; ++rank) {
      LoaderOptions options;
      options.batch_size = 4;
      options.shard = {rank, world};
      Loader loader(numbered(50), options, 0, {});
      const at::Tensor targets = all_targets(read_epoch(loader, 0));
      CHECK(loader.num_samples() == targets.numel());
      for (int64_t i = 0; i < targets.numel(); ++i) ++counts[static_cast<size_t>(targets[i].item<int64_t>())];
    }
    CHECK(std::all_of(counts.begin(), counts.end(), [](int64_t count) { return count == 1; }));
  }
}

TEST_CASE("evaluation shard past the set is empty") {
  // One sample, three ranks: ranks 1 and 2 get nothing.
  for (const int64_t rank : {1, 2}) {
    const Sampler sampler(1, false, false, {rank, 3}, 0);
    CHECK(sampler.size() == 0);
    CHECK(sampler.indices(0).numel() == 0);
  }
  CHECK(Sampler(1, false, false, {0, 3}, 0).size() == 1);
}

TEST_CASE("sampler rejects a rank outside the world") {
  CHECK_THROWS_WITH_AS(Sampler(10, true, true, {2, 2}, 0),
                       "invalid data shard: rank 2 of world size 2; the rank must be in [0, world_size)", DataError);
}

TEST_CASE("unshuffled training reads storage order without copies") {
  LoaderOptions options = training(4);
  options.shuffle = false;
  TensorDataset data = numbered(10);
  Loader loader(data, options, 0, {});
  const Batch batch = loader.batch(1);
  CHECK(at::equal(batch.targets, at::arange(4, 8, at::kLong)));
}

TEST_CASE("loader transforms once with per-batch values") {
  // Byte images, as Fashion-MNIST stores them; the loader transforms them once up front.
  const at::Tensor pixels = at::arange(12 * 16, at::kLong).remainder(256).to(at::kByte).reshape({12, 1, 4, 4});
  Transform transform;
  transform.scale = 1.0 / 255.0;
  transform.mean = at::full({1, 1, 1}, 0.2860, at::kFloat);
  transform.std = at::full({1, 1, 1}, 0.3530, at::kFloat);
  Loader loader({pixels, at::arange(12, at::kLong)}, training(5), 7, transform);
  for (const Batch& batch : read_epoch(loader, 1)) {
    const at::Tensor expected = transform.apply(pixels.index_select(0, batch.targets), nullptr);
    CHECK(batch.inputs.is_floating_point());
    CHECK(at::equal(batch.inputs, expected));
  }
}

}  // namespace
}  // namespace trainer::data
