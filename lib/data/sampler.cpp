#include "data/sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>

#include "core/errors.h"

namespace trainer::data {

uint64_t mix_seed(std::initializer_list<uint64_t> values) {
  uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (uint64_t value : values) {
    state ^= value + 0x9E3779B97F4A7C15ULL + (state << 6) + (state >> 2);
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    state = z ^ (z >> 31);
  }
  return state;
}

Sampler::Sampler(int64_t num_samples, bool shuffle, bool training, Shard shard, uint64_t seed)
    : num_samples_(num_samples), shuffle_(shuffle && training), training_(training), shard_(shard), seed_(seed) {
  if (shard.world_size < 1 || shard.rank < 0 || shard.rank >= shard.world_size) {
    throw DataError("invalid data shard: rank " + std::to_string(shard.rank) + " of world size " +
                    std::to_string(shard.world_size) + "; the rank must be in [0, world_size)");
  }
  if (training_) {
    size_ = num_samples / shard.world_size;
  } else {
    size_ = shard.rank < num_samples ? (num_samples - shard.rank + shard.world_size - 1) / shard.world_size : 0;
  }
}

at::Tensor Sampler::indices(int64_t epoch) const {
  const auto long_options = at::TensorOptions().dtype(at::kLong);
  if (!training_) {
    if (shard_.world_size == 1) return {};
    // A set smaller than the world leaves the last ranks empty; arange rejects start > end.
    if (shard_.rank >= num_samples_) return at::empty({0}, long_options);
    return at::arange(shard_.rank, num_samples_, shard_.world_size, long_options);
  }

  at::Tensor order;
  if (shuffle_) {
    // One generator per epoch seeded from (seed, epoch): the order of epoch k does
    // not depend on how many random numbers anything else drew before it.
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(mix_seed({seed_, static_cast<uint64_t>(epoch)}));
    order = at::randperm(num_samples_, generator, long_options);
  } else if (shard_.world_size == 1) {
    return {};
  } else {
    order = at::arange(num_samples_, long_options);
  }
  if (shard_.world_size == 1) return order;
  return order.slice(0, shard_.rank, size_ * shard_.world_size, shard_.world_size).contiguous();
}

}  // namespace trainer::data
