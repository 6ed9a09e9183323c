#include "logging/metrics.h"

#include <charconv>
#include <cmath>

namespace trainer::logging {

double find_metric(const Metrics& metrics, const std::string& name) {
  for (const auto& [key, value] : metrics) {
    if (key == name) return value;
  }
  return std::nan("");
}

std::string format_metric(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

void MetricAccumulator::add(const std::string& name, const at::Tensor& weighted_sum, int64_t weight) {
  for (Entry& entry : entries_) {
    if (entry.name == name) {
      entry.sum.add_(weighted_sum.detach().to(at::kDouble));
      entry.weight += weight;
      return;
    }
  }
  entries_.push_back({name, weighted_sum.detach().to(at::kDouble).clone(), weight});
}

Metrics MetricAccumulator::compute_and_reset(const std::string& prefix) {
  Metrics result;
  std::vector<Entry> kept;
  for (Entry& entry : entries_) {
    if (entry.name.rfind(prefix, 0) != 0) {
      kept.push_back(std::move(entry));
      continue;
    }
    const double sum = entry.sum.item<double>();
    result.emplace_back(entry.name, entry.weight > 0 ? sum / static_cast<double>(entry.weight) : std::nan(""));
  }
  entries_ = std::move(kept);
  return result;
}

}  // namespace trainer::logging
