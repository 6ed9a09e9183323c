#pragma once
/// Learning-rate schedulers: step, multistep, exponential, cosine, warmup with cosine or
/// linear decay, one-cycle and reduce-on-plateau, each advanced per step or per epoch.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/registry.h"

namespace torch::optim {
class Optimizer;
}

namespace trainer::optim {

/// Arguments every scheduler shares.
struct ScheduleArgs {
  std::string interval = "epoch";
  int64_t frequency = 1;

  void visit_schedule(config::FieldVisitor& v);
};

/// Sets the learning rate of every parameter group. A scheduler counts its own steps
/// (`count`); closed-form schedules compute the rate from the count alone, so resuming
/// needs only the count. Construction applies the rate for count 0.
class LrScheduler {
 public:
  LrScheduler(torch::optim::Optimizer& optimizer, const ScheduleArgs& args);
  virtual ~LrScheduler() = default;

  bool per_step() const { return interval_ == "step"; }
  /// The metric this scheduler needs (reduce_on_plateau), or "".
  virtual std::string monitor() const { return ""; }

  /// Records that one interval (a step or an epoch) ended; every `frequency` intervals
  /// the scheduler steps. `metric` is the monitored value, when the scheduler monitors one.
  void interval_end(std::optional<double> metric);

  /// Current learning rate of each parameter group.
  std::vector<double> learning_rates() const;

  std::map<std::string, double> state() const;
  /// Restores state() output and re-applies the learning rates it implies.
  void load_state(const std::map<std::string, double>& state);

 protected:
  /// Learning rate of a group with base rate `base_lr` after `count` scheduler steps.
  virtual double rate(int64_t count, double base_lr) const = 0;
  /// Stateful schedulers (plateau) update here before rates are applied.
  virtual void observe(std::optional<double>) {}
  virtual void save_extra(std::map<std::string, double>&) const {}
  virtual void load_extra(const std::map<std::string, double>&) {}
  void apply();

  torch::optim::Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t count_ = 0;

 private:
  std::string interval_;
  int64_t frequency_;
  int64_t intervals_ = 0;
};

using SchedulerRegistry = Registry<std::unique_ptr<LrScheduler>, torch::optim::Optimizer&>;

/// The scheduler registry with the built-in schedulers registered.
SchedulerRegistry& scheduler_registry();

}  // namespace trainer::optim
