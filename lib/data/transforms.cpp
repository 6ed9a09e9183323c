#include "data/transforms.h"

#include <ATen/Functions.h>

namespace trainer::data {
namespace {

/// Random crop with zero padding on the last two dimensions: each sample gets its own
/// offset, and two gathers cut every window at once.
at::Tensor random_crop(const at::Tensor& images, int64_t padding, at::Generator& generator) {
  const int64_t batch = images.size(0);
  const int64_t height = images.size(-2);
  const int64_t width = images.size(-1);
  const at::Tensor padded = at::constant_pad_nd(images, {padding, padding, padding, padding}, 0);
  const at::Tensor offsets = at::randint(0, 2 * padding + 1, {batch, 2}, generator, at::kLong);

  std::vector<int64_t> row_shape(static_cast<size_t>(images.dim()), 1);
  row_shape[0] = batch;
  row_shape[row_shape.size() - 2] = height;
  std::vector<int64_t> column_shape(static_cast<size_t>(images.dim()), 1);
  column_shape[0] = batch;
  column_shape.back() = width;

  const at::Tensor rows = offsets.select(1, 0).unsqueeze(1).add(at::arange(height, at::kLong)).reshape(row_shape);
  const at::Tensor columns = offsets.select(1, 1).unsqueeze(1).add(at::arange(width, at::kLong)).reshape(column_shape);

  std::vector<int64_t> rows_size = padded.sizes().vec();
  rows_size[rows_size.size() - 2] = height;
  const at::Tensor cut_rows = padded.gather(-2, rows.expand(rows_size));
  return cut_rows.gather(-1, columns.expand(images.sizes()));
}

at::Tensor random_flip(const at::Tensor& images, double probability, at::Generator& generator) {
  std::vector<int64_t> mask_shape(static_cast<size_t>(images.dim()), 1);
  mask_shape[0] = images.size(0);
  const at::Tensor flip = at::rand({images.size(0)}, generator).lt(probability).reshape(mask_shape);
  return at::where(flip, images.flip({-1}), images);
}

}  // namespace

void AugmentArgs::visit_augment(config::FieldVisitor& v) {
  v.field("random_crop_padding", random_crop_padding,
          {"Training only: pad images by this many zero pixels per side, then crop a random "
           "window of the original size; 0 turns it off.",
           {}, 0});
  v.field("horizontal_flip", horizontal_flip,
          {"Training only: probability of flipping each image left to right.", {}, 0.0, 1.0});
}

void Transform::fit(const at::Tensor& train_inputs) {
  if (!standardize || !to_float) return;
  const at::Tensor values = train_inputs.to(at::kDouble).mul(scale);
  std::vector<int64_t> dims;
  std::vector<int64_t> keep_shape;
  if (values.dim() == 2) {
    dims = {0};
  } else if (values.dim() == 4) {
    dims = {0, 2, 3};
    keep_shape = {values.size(1), 1, 1};
  } else {
    for (int64_t d = 0; d < values.dim(); ++d) dims.push_back(d);
  }
  at::Tensor fitted_mean = values.mean(dims);
  at::Tensor fitted_std = values.std(dims, /*unbiased=*/false);
  fitted_std = at::where(fitted_std.gt(0), fitted_std, at::ones_like(fitted_std));
  if (!keep_shape.empty()) {
    fitted_mean = fitted_mean.reshape(keep_shape);
    fitted_std = fitted_std.reshape(keep_shape);
  }
  mean = fitted_mean.to(at::kFloat);
  std = fitted_std.to(at::kFloat);
}

at::Tensor Transform::apply(const at::Tensor& batch, at::Generator* augment) const {
  if (!to_float) return batch;
  // One copy up front, then in-place steps: the input may share storage with the dataset.
  at::Tensor x = batch.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  if (scale != 1.0) x.mul_(scale);
  if (augment != nullptr && x.dim() >= 3) {
    if (crop_padding > 0) x = random_crop(x, crop_padding, *augment);
    if (flip_probability > 0.0) x = random_flip(x, flip_probability, *augment);
  }
  if (mean.defined()) x.sub_(mean);
  if (std.defined()) x.div_(std);
  return x;
}

StateDict Transform::state() const {
  StateDict state;
  if (mean.defined()) state["transform/mean"] = mean;
  if (std.defined()) state["transform/std"] = std;
  return state;
}

void Transform::load_state(const StateDict& state) {
  const auto mean_it = state.find("transform/mean");
  const auto std_it = state.find("transform/std");
  if (mean_it != state.end()) mean = mean_it->second.to(at::kFloat);
  if (std_it != state.end()) std = std_it->second.to(at::kFloat);
}

}  // namespace trainer::data
