#pragma once
/// Per-batch input transforms: conversion to float, augmentation and normalisation.
/// They run on whole batches, so no work is done per sample.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

#include "config/fields.h"
#include "data/state_dict.h"

namespace trainer::data {

/// Augmentation arguments of image datasets; image dataset arguments derive from this.
struct AugmentArgs {
  int64_t random_crop_padding = 0;
  double horizontal_flip = 0.0;

  void visit_augment(config::FieldVisitor& v);
};

/// Turns stored inputs (bytes, floats or token ids) into model inputs, one batch at a time.
/// Order: convert to float and multiply by `scale`, augment (training only), then
/// subtract `mean` and divide by `std`.
class Transform {
 public:
  /// False keeps inputs as they are stored (token ids); every other field is then ignored.
  bool to_float = true;
  double scale = 1.0;
  /// Broadcastable against one batch; undefined means no normalisation.
  at::Tensor mean;
  at::Tensor std;
  /// Fit `mean` and `std` on the training inputs: per feature for (N, F) inputs,
  /// per channel for (N, C, H, W) inputs, one value for any other shape.
  bool standardize = false;
  int64_t crop_padding = 0;
  double flip_probability = 0.0;

  /// Computes `mean` and `std` from `train_inputs` when `standardize` is set; a
  /// feature with zero spread gets std 1 so it stays finite.
  void fit(const at::Tensor& train_inputs);
  bool augments() const { return to_float && (crop_padding > 0 || flip_probability > 0.0); }
  /// Returns the transformed batch. `augment` is null for evaluation; the batch
  /// is never modified in place, because it may be a view of the dataset.
  at::Tensor apply(const at::Tensor& batch, at::Generator* augment) const;

  /// "transform/mean" and "transform/std" when they are defined.
  StateDict state() const;
  void load_state(const StateDict& state);
};

}  // namespace trainer::data
