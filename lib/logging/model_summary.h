#pragma once
/// The model summary table logged at fit start.

#include <cstdint>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace trainer::logging {

/// One row per direct child of `module` (index, name, type, output shape, parameters),
/// then the trainable, non-trainable and total parameter counts and the parameters'
/// size in MB (10^6 bytes). Returns the table as lines without line breaks.
///
/// NOTE: output shapes show "?": LibTorch's C++ modules have no forward hooks, so a
/// child's output shape is not known without running the model.
std::vector<std::string> format_model_summary(const torch::nn::Module& module);

}  // namespace trainer::logging
