#pragma once
/// Model files for other programs: a state dict that Python's torch.load reads.

#include <string>

namespace torch::nn {
class Module;
}

namespace trainer::models {

/// Returns the bytes of a file that Python's `torch.load` reads as a dict from
/// parameter and buffer names to CPU tensors: the names `named_parameters()` and
/// `named_buffers()` use, parameters first, so `load_state_dict` of a Python module
/// with the same layout accepts it.
std::string state_dict_bytes(const torch::nn::Module& model);

}  // namespace trainer::models
