#include "logging/model_summary.h"

#include <torch/nn/module.h>

#include <algorithm>

namespace trainer::logging {
namespace {

/// "torch::nn::LinearImpl" → "Linear"; user classes keep their qualified name.
std::string short_type_name(const std::string& name) {
  std::string type = name;
  const std::string torch_prefix = "torch::nn::";
  if (type.rfind(torch_prefix, 0) == 0) type = type.substr(torch_prefix.size());
  const std::string impl = "Impl";
  if (type.size() > impl.size() && type.compare(type.size() - impl.size(), impl.size(), impl) == 0) {
    type.resize(type.size() - impl.size());
  }
  return type;
}

std::string format_count(int64_t count) {
  char buffer[32];
  if (count >= 1'000'000) {
    std::snprintf(buffer, sizeof(buffer), "%.1f M", static_cast<double>(count) / 1e6);
  } else if (count >= 1'000) {
    std::snprintf(buffer, sizeof(buffer), "%.1f K", static_cast<double>(count) / 1e3);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%lld", static_cast<long long>(count));
  }
  return buffer;
}

std::string pad(const std::string& text, size_t width) {
  return text + std::string(width > text.size() ? width - text.size() : 0, ' ');
}

}  // namespace

std::vector<std::string> format_model_summary(const torch::nn::Module& module) {
  std::vector<std::vector<std::string>> rows{{"", "name", "type", "output shape", "params"}};
  int64_t index = 0;
  for (const auto& child : module.named_children()) {
    int64_t count = 0;
    for (const auto& parameter : child.value()->parameters()) count += parameter.numel();
    rows.push_back({std::to_string(index++), child.key(), short_type_name(child.value()->name()), "?",
                    format_count(count)});
  }

  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t column = 0; column < row.size(); ++column) widths[column] = std::max(widths[column], row[column].size());
  }
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string line;
    for (size_t column = 0; column < row.size(); ++column) {
      line += (column == 0 ? "" : " | ") + pad(row[column], widths[column]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(line);
  }

  int64_t trainable = 0;
  int64_t frozen = 0;
  double bytes = 0;
  for (const auto& parameter : module.parameters()) {
    (parameter.requires_grad() ? trainable : frozen) += parameter.numel();
    bytes += static_cast<double>(parameter.numel() * parameter.element_size());
  }
  char size[64];
  std::snprintf(size, sizeof(size), "%.3f", bytes / 1e6);
  lines.push_back(format_count(trainable) + " trainable params");
  lines.push_back(format_count(frozen) + " non-trainable params");
  lines.push_back(format_count(trainable + frozen) + " total params");
  lines.push_back(std::string(size) + " total estimated model params size (MB)");
  return lines;
}

}  // namespace trainer::logging
