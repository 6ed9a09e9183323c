#include "data/loader.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Functions.h>

#include <stdexcept>

#include "core/errors.h"
#include "data/prefetch.h"

namespace trainer::data {
namespace {

/// Inputs whose float copy fits in this many bytes are transformed once, when the loader
/// is built, unless the transform augments: a batch is then a single index_select.
constexpr int64_t kPretransformBytes = int64_t{1} << 30;

}  // namespace

TensorDataset TensorDataset::select(const at::Tensor& indices) const {
  return {inputs.index_select(0, indices), targets.index_select(0, indices)};
}

/// The loader's immutable part, shared with the worker threads.
struct Loader::Source {
  TensorDataset data;
  LoaderOptions options;
  uint64_t seed = 0;
  Transform transform;
  Sampler sampler;

  int64_t num_batches() const {
    const int64_t samples = sampler.size();
    const int64_t batch_size = options.batch_size;
    if (options.training && options.drop_last) return samples / batch_size;
    return (samples + batch_size - 1) / batch_size;
  }

  Batch build(const at::Tensor& indices, int64_t epoch, int64_t index) const {
    const int64_t begin = index * options.batch_size;
    const int64_t end = std::min(begin + options.batch_size, sampler.size());
    Batch batch;
    if (indices.defined()) {
      const at::Tensor positions = indices.slice(0, begin, end);
      batch.inputs = data.inputs.index_select(0, positions);
      batch.targets = data.targets.index_select(0, positions);
    } else {
      batch.inputs = data.inputs.slice(0, begin, end);
      batch.targets = data.targets.slice(0, begin, end);
    }

    if (options.training && transform.augments()) {
      // Seeded per (seed, epoch, rank, batch), so a resumed run and any worker
      // count draw the same augmentation as an uninterrupted single-thread run.
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(mix_seed(
          {seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(options.shard.rank), static_cast<uint64_t>(index),
           0xA06ULL}));
      batch.inputs = transform.apply(batch.inputs, &generator);
    } else {
      batch.inputs = transform.apply(batch.inputs, nullptr);
    }
    // Text sequences are overlapping views of one token tensor; models get contiguous batches.
    batch.inputs = batch.inputs.contiguous();
    batch.targets = batch.targets.contiguous();
    if (options.pin_memory) {
      batch.inputs = batch.inputs.pin_memory();
      batch.targets = batch.targets.pin_memory();
    }
    return batch;
  }
};

Loader::Loader() : source_(std::make_shared<Source>()) {}

Loader::Loader(TensorDataset data, const LoaderOptions& options, uint64_t seed, Transform transform) {
  auto source = std::make_shared<Source>();
  source->sampler = Sampler(data.size(), options.shuffle, options.training, options.shard, seed);
  const bool augments = options.training && transform.augments();
  if (transform.to_float && !augments && data.inputs.defined() && data.inputs.numel() * 4 <= kPretransformBytes) {
    // The same element-wise steps as per batch, so the values are bitwise identical. The
    // cost is memory: bytes become 4-byte floats (Fashion-MNIST: 43 MB become 172 MB).
    data.inputs = transform.apply(data.inputs, nullptr);
    transform = Transform{};
    transform.to_float = false;  // the identity from here on
  }
  source->data = std::move(data);
  source->options = options;
  // Pinning needs a CUDA runtime; without one the batches stay in ordinary memory.
  source->options.pin_memory = options.pin_memory && at::hasCUDA();
  source->seed = seed;
  source->transform = std::move(transform);
  source_ = std::move(source);
  set_epoch(0);
}

Loader::~Loader() = default;
Loader::Loader(Loader&&) noexcept = default;
Loader& Loader::operator=(Loader&&) noexcept = default;

int64_t Loader::num_samples() const { return source_->sampler.size(); }

int64_t Loader::dataset_size() const { return source_->data.size(); }

int64_t Loader::batch_size() const { return source_->options.batch_size; }

int64_t Loader::num_batches() const { return source_->options.batch_size > 0 ? source_->num_batches() : 0; }

void Loader::set_epoch(int64_t epoch) {
  prefetcher_.reset();
  epoch_ = epoch;
  next_batch_ = 0;
  indices_ = source_->sampler.indices(epoch);
}

Batch Loader::batch(int64_t index) {
  if (index < 0 || index >= num_batches()) {
    throw std::out_of_range("batch index " + std::to_string(index) + " is outside [0, " +
                            std::to_string(num_batches()) + ")");
  }
  next_batch_ = index + 1;
  const int64_t num_workers = source_->options.num_workers;
  if (num_workers == 0) return source_->build(indices_, epoch_, index);

  if (!prefetcher_ || prefetcher_->next_index() != index) {
    prefetcher_.reset();  // joins the old workers before the new ones start
    auto produce = [source = source_, indices = indices_, epoch = epoch_](int64_t i) {
      return source->build(indices, epoch, i);
    };
    prefetcher_ = std::make_unique<Prefetcher>(std::move(produce), index, num_batches(), num_workers,
                                               2 * num_workers);
  }
  return prefetcher_->take();
}

LoaderState Loader::state() const { return {epoch_, next_batch_, source_->seed}; }

void Loader::load_state(const LoaderState& state) {
  if (state.seed != source_->seed) {
    throw CheckpointError("the checkpoint's data order was drawn with seed_everything=" +
                          std::to_string(static_cast<int64_t>(state.seed)) + " but this run uses " +
                          std::to_string(static_cast<int64_t>(source_->seed)) +
                          "; set seed_everything to the checkpoint's value to continue the same order");
  }
  set_epoch(state.epoch);
  next_batch_ = state.next_batch;
}

}  // namespace trainer::data
