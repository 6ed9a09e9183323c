#include "data/loader.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>

namespace trainer::data {

TensorDataset TensorDataset::select(const at::Tensor& indices) const {
  return {inputs.index_select(0, indices), targets.index_select(0, indices)};
}

Loader::Loader(TensorDataset data, int64_t batch_size, bool shuffle, uint64_t seed, InputTransform transform)
    : data_(std::move(data)), batch_size_(batch_size), shuffle_(shuffle), seed_(seed),
      transform_(std::move(transform)) {}

int64_t Loader::num_batches() const { return (data_.size() + batch_size_ - 1) / batch_size_; }

void Loader::set_epoch(int64_t epoch) {
  if (!shuffle_) return;
  // One generator per epoch, seeded from (seed, epoch): the order of epoch k does
  // not depend on how many random numbers anything else drew before it.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed_ * 1000003ULL + static_cast<uint64_t>(epoch));
  order_ = at::randperm(data_.size(), generator, at::TensorOptions().dtype(at::kLong));
}

Batch Loader::batch(int64_t index) const {
  const int64_t begin = index * batch_size_;
  const int64_t end = std::min(begin + batch_size_, data_.size());
  Batch batch;
  if (order_.defined()) {
    const at::Tensor indices = order_.slice(0, begin, end);
    batch.inputs = data_.inputs.index_select(0, indices);
    batch.targets = data_.targets.index_select(0, indices);
  } else {
    batch.inputs = data_.inputs.slice(0, begin, end);
    batch.targets = data_.targets.slice(0, begin, end);
  }
  if (transform_) batch.inputs = transform_(batch.inputs);
  return batch;
}

}  // namespace trainer::data
