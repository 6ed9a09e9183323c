#include "logging/metrics.h"

#include <ATen/Functions.h>

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

MetricAccumulator::Entry* MetricAccumulator::find(const std::string& name) {
  for (Entry& entry : entries_) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

void MetricAccumulator::add(const std::string& name, const at::Tensor& weighted_sum, int64_t weight, bool sync) {
  if (Entry* entry = find(name)) {
    entry->sum.add_(weighted_sum.detach().to(at::kDouble));
    entry->weight += weight;
    entry->sync = entry->sync || sync;
    return;
  }
  entries_.push_back({name, weighted_sum.detach().to(at::kDouble).clone(), weight, Reduction::mean, sync});
}

void MetricAccumulator::update(const std::string& name, const at::Tensor& value, int64_t batch_size,
                               Reduction reduction, bool sync) {
  const at::Tensor number = value.detach().to(at::kDouble);
  if (reduction == Reduction::mean) {
    add(name, number.mul(static_cast<double>(batch_size)), batch_size);
  } else if (Entry* entry = find(name)) {
    if (reduction == Reduction::sum) entry->sum.add_(number);
    if (reduction == Reduction::max) entry->sum = at::maximum(entry->sum, number);
    if (reduction == Reduction::min) entry->sum = at::minimum(entry->sum, number);
    entry->weight += batch_size;
  } else {
    entries_.push_back({name, number.clone(), batch_size});
  }
  Entry* entry = find(name);
  entry->reduction = reduction;
  entry->sync = entry->sync || sync;
}

Metrics MetricAccumulator::compute_and_reset(const std::string& prefix, Reducer* reducer) {
  Metrics result;
  std::vector<Entry> kept;
  for (Entry& entry : entries_) {
    if (entry.name.rfind(prefix, 0) != 0) {
      kept.push_back(std::move(entry));
      continue;
    }
    if (entry.reduction != Reduction::mean) {
      if (entry.sync && reducer != nullptr) reducer->all_reduce(entry.sum, entry.reduction);
      result.emplace_back(entry.name, entry.sum.item<double>());
      continue;
    }
    // A mean over every process: sum the weighted sums and the weights, then divide.
    at::Tensor pair = at::stack({entry.sum.reshape({}), at::scalar_tensor(static_cast<double>(entry.weight),
                                                                          entry.sum.options())});
    if (entry.sync && reducer != nullptr) reducer->all_reduce(pair, Reduction::sum);
    const double sum = pair[0].item<double>();
    const double weight = pair[1].item<double>();
    result.emplace_back(entry.name, weight > 0 ? sum / weight : std::nan(""));
  }
  entries_ = std::move(kept);
  return result;
}

}  // namespace trainer::logging
