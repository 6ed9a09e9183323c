#include "models/export.h"

#include <ATen/core/Dict.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/nn/module.h>

namespace trainer::models {

std::string state_dict_bytes(const torch::nn::Module& model) {
  c10::Dict<std::string, at::Tensor> tensors;
  for (const auto& item : model.named_parameters()) tensors.insert(item.key(), item.value().detach().cpu());
  for (const auto& item : model.named_buffers()) tensors.insert(item.key(), item.value().detach().cpu());
  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(tensors));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace trainer::models
