#pragma once
/// Named tensors that a checkpoint carries for the data: class names, vocabulary,
/// standardisation statistics and the training loader's position.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trainer::data {

using StateDict = std::map<std::string, at::Tensor>;

/// Encodes names as one uint8 tensor of newline-separated bytes, so they fit a StateDict.
/// Names must not contain a newline.
at::Tensor encode_names(const std::vector<std::string>& names);
std::vector<std::string> decode_names(const at::Tensor& encoded);

/// Stores an integer as a 0-dimensional int64 tensor.
at::Tensor scalar_state(int64_t value);
/// Reads `key` from `state` as an integer; returns `fallback` when it is absent.
int64_t read_scalar(const StateDict& state, const std::string& key, int64_t fallback);

}  // namespace trainer::data
