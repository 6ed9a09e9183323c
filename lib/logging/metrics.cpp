#include "logging/metrics.h"

#include <ATen/Functions.h>

#include <algorithm>
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

std::map<std::string, double> MetricAccumulator::state(const std::string& prefix, Reducer* reducer) const {
  std::vector<Entry> selected;
  std::vector<Entry> synced;
  for (const Entry& entry : entries_) {
    if (entry.name.rfind(prefix, 0) != 0) continue;
    Entry copy = entry;
    copy.sum = entry.sum.clone();
    (entry.sync && reducer != nullptr ? synced : selected).push_back(std::move(copy));
  }
  if (reducer != nullptr) reduce_across(synced, *reducer);
  selected.insert(selected.end(), std::make_move_iterator(synced.begin()), std::make_move_iterator(synced.end()));

  std::map<std::string, double> state;
  for (const Entry& entry : selected) {
    state[entry.name + "/sum"] = entry.sum.item<double>();
    state[entry.name + "/weight"] = static_cast<double>(entry.weight);
    state[entry.name + "/reduction"] = static_cast<double>(entry.reduction);
    state[entry.name + "/sync"] = entry.sync ? 1.0 : 0.0;
  }
  return state;
}

void MetricAccumulator::load_state(const std::map<std::string, double>& state) {
  const std::string suffix = "/sum";
  for (const auto& [key, sum] : state) {
    if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string name = key.substr(0, key.size() - suffix.size());
    auto value = [&](const std::string& field) {
      const auto it = state.find(name + "/" + field);
      return it == state.end() ? 0.0 : it->second;
    };
    Entry entry{name, at::scalar_tensor(sum, at::kDouble), static_cast<int64_t>(value("weight")),
                static_cast<Reduction>(static_cast<int>(value("reduction"))), value("sync") != 0.0};
    if (Entry* existing = find(name)) {
      *existing = std::move(entry);
    } else {
      entries_.push_back(std::move(entry));
    }
  }
}

void MetricAccumulator::reduce_across(std::vector<Entry>& synced, Reducer& reducer) {
  // Every process reduces rank 0's list, in rank 0's order, so the collectives line up.
  // A process without an entry (it read no batches) contributes the reduction's identity.
  std::string names;
  for (const Entry& entry : synced) names += entry.name + '\t' + std::to_string(static_cast<int>(entry.reduction)) + '\n';
  names = reducer.broadcast_text(names);
  std::vector<Entry> agreed;
  for (size_t begin = 0; begin < names.size();) {
    const size_t tab = names.find('\t', begin);
    const size_t end = names.find('\n', tab);
    Entry entry;
    entry.name = names.substr(begin, tab - begin);
    entry.reduction = static_cast<Reduction>(std::stoi(names.substr(tab + 1, end - tab - 1)));
    entry.sync = true;
    auto it = std::find_if(synced.begin(), synced.end(), [&](const Entry& own) { return own.name == entry.name; });
    if (it != synced.end()) {
      entry = std::move(*it);
    } else {
      const double identity = entry.reduction == Reduction::max   ? -INFINITY
                              : entry.reduction == Reduction::min ? INFINITY
                                                                  : 0.0;
      entry.sum = at::scalar_tensor(identity, at::kDouble);
    }
    if (entry.reduction == Reduction::mean) {
      // A mean over every process: sum the weighted sums and the weights.
      at::Tensor pair = at::stack({entry.sum.reshape({}), at::scalar_tensor(static_cast<double>(entry.weight),
                                                                            entry.sum.options())});
      reducer.all_reduce(pair, Reduction::sum);
      entry.sum = pair[0].clone();
      entry.weight = static_cast<int64_t>(std::llround(pair[1].item<double>()));
    } else {
      reducer.all_reduce(entry.sum, entry.reduction);
    }
    agreed.push_back(std::move(entry));
    begin = end + 1;
  }
  synced = std::move(agreed);
}

Metrics MetricAccumulator::compute_and_reset(const std::string& prefix, Reducer* reducer) {
  std::vector<Entry> kept;
  std::vector<Entry> local;
  std::vector<Entry> synced;
  for (Entry& entry : entries_) {
    if (entry.name.rfind(prefix, 0) != 0) {
      kept.push_back(std::move(entry));
    } else {
      (entry.sync && reducer != nullptr ? synced : local).push_back(std::move(entry));
    }
  }
  entries_ = std::move(kept);
  if (reducer != nullptr) reduce_across(synced, *reducer);

  Metrics result;
  for (std::vector<Entry>* group : {&synced, &local}) {
    for (Entry& entry : *group) {
      if (entry.reduction != Reduction::mean) {
        result.emplace_back(entry.name, entry.sum.item<double>());
        continue;
      }
      const double sum = entry.sum.item<double>();
      const auto weight = static_cast<double>(entry.weight);
      result.emplace_back(entry.name, weight > 0 ? sum / weight : std::nan(""));
    }
  }
  return result;
}

}  // namespace trainer::logging
