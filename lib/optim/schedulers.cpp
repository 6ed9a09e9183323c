#include "optim/schedulers.h"

#include <torch/optim/optimizer.h>

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace trainer::optim {
namespace {

using SchedulerPtr = std::unique_ptr<LrScheduler>;
constexpr double kPi = 3.14159265358979323846;

/// Cosine interpolation from `start` (pct 0) to `end` (pct 1).
double cosine_anneal(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (1.0 + std::cos(kPi * std::clamp(pct, 0.0, 1.0)));
}

struct StepArgs : config::Args, ScheduleArgs {
  int64_t step_size = 10;
  double gamma = 0.1;
  void visit(config::FieldVisitor& v) override {
    v.field("step_size", step_size, {"Intervals between decays.", {}, 1});
    v.field("gamma", gamma, {"Multiplicative decay.", {}, 0.0});
    visit_schedule(v);
  }
};
class StepScheduler : public LrScheduler {
 public:
  StepScheduler(torch::optim::Optimizer& optimizer, const StepArgs& args)
      : LrScheduler(optimizer, args), args_(args) { apply(); }
  double rate(int64_t count, double base) const override {
    return base * std::pow(args_.gamma, static_cast<double>(count / args_.step_size));
  }

 private:
  StepArgs args_;
};

struct MultiStepArgs : config::Args, ScheduleArgs {
  std::vector<int64_t> milestones{30, 60};
  double gamma = 0.1;
  void visit(config::FieldVisitor& v) override {
    v.field("milestones", milestones, {"Scheduler steps at which the rate is multiplied by gamma.", {}, 1});
    v.field("gamma", gamma, {"Multiplicative decay.", {}, 0.0});
    visit_schedule(v);
  }
};
class MultiStepScheduler : public LrScheduler {
 public:
  MultiStepScheduler(torch::optim::Optimizer& optimizer, const MultiStepArgs& args)
      : LrScheduler(optimizer, args), args_(args) { apply(); }
  double rate(int64_t count, double base) const override {
    const auto passed = std::count_if(args_.milestones.begin(), args_.milestones.end(),
                                      [count](int64_t milestone) { return milestone <= count; });
    return base * std::pow(args_.gamma, static_cast<double>(passed));
  }

 private:
  MultiStepArgs args_;
};

struct ExponentialArgs : config::Args, ScheduleArgs {
  double gamma = 0.95;
  void visit(config::FieldVisitor& v) override {
    v.field("gamma", gamma, {"Multiplicative decay per scheduler step.", {}, 0.0});
    visit_schedule(v);
  }
};
class ExponentialScheduler : public LrScheduler {
 public:
  ExponentialScheduler(torch::optim::Optimizer& optimizer, const ExponentialArgs& args)
      : LrScheduler(optimizer, args), gamma_(args.gamma) { apply(); }
  double rate(int64_t count, double base) const override { return base * std::pow(gamma_, static_cast<double>(count)); }

 private:
  double gamma_;
};

struct CosineArgs : config::Args, ScheduleArgs {
  int64_t t_max = 10;
  double eta_min = 0.0;
  void visit(config::FieldVisitor& v) override {
    v.field("t_max", t_max, {"Scheduler steps from the base rate down to eta_min; the rate stays there after.", {}, 1});
    v.field("eta_min", eta_min, {"Final learning rate.", {}, 0.0});
    visit_schedule(v);
  }
};
class CosineScheduler : public LrScheduler {
 public:
  CosineScheduler(torch::optim::Optimizer& optimizer, const CosineArgs& args)
      : LrScheduler(optimizer, args), args_(args) { apply(); }
  double rate(int64_t count, double base) const override {
    return cosine_anneal(base, args_.eta_min, static_cast<double>(count) / static_cast<double>(args_.t_max));
  }

 private:
  CosineArgs args_;
};

/// Linear warmup from start_factor × base to base, then cosine or linear decay to eta_min.
struct WarmupArgs : config::Args, ScheduleArgs {
  WarmupArgs() { interval = "step"; }
  int64_t warmup_steps = 100;
  int64_t total_steps = 1000;
  double start_factor = 0.0;
  double eta_min = 0.0;
  void visit(config::FieldVisitor& v) override {
    v.field("warmup_steps", warmup_steps, {"Scheduler steps of linear warmup.", {}, 0});
    v.field("total_steps", total_steps, {"Scheduler steps until the rate reaches eta_min.", {}, 1});
    v.field("start_factor", start_factor, {"Rate at step 0 as a fraction of the base rate.", {}, 0.0, 1.0});
    v.field("eta_min", eta_min, {"Final learning rate.", {}, 0.0});
    visit_schedule(v);
  }
};
class WarmupScheduler : public LrScheduler {
 public:
  WarmupScheduler(torch::optim::Optimizer& optimizer, const WarmupArgs& args, bool cosine)
      : LrScheduler(optimizer, args), args_(args), cosine_(cosine) {
    if (args.warmup_steps >= args.total_steps) {
      throw UsageError("lr_scheduler.init_args.warmup_steps (" + std::to_string(args.warmup_steps) +
                       ") must be below total_steps (" + std::to_string(args.total_steps) + ")");
    }
    apply();
  }
  double rate(int64_t count, double base) const override {
    const auto t = static_cast<double>(count);
    const auto warmup = static_cast<double>(args_.warmup_steps);
    if (count < args_.warmup_steps) return base * (args_.start_factor + (1.0 - args_.start_factor) * t / warmup);
    const double pct = (t - warmup) / (static_cast<double>(args_.total_steps) - warmup);
    if (cosine_) return cosine_anneal(base, args_.eta_min, pct);
    return base + (args_.eta_min - base) * std::min(pct, 1.0);
  }

 private:
  WarmupArgs args_;
  bool cosine_;
};

/// One-cycle (Smith & Topin, 2018) with cosine annealing, as torch.optim.lr_scheduler.OneCycleLR.
struct OneCycleArgs : config::Args, ScheduleArgs {
  OneCycleArgs() { interval = "step"; }
  double max_lr = 0.01;
  int64_t total_steps = 1000;
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  void visit(config::FieldVisitor& v) override {
    v.field("max_lr", max_lr, {"Peak learning rate.", {}, 0.0});
    v.field("total_steps", total_steps, {"Scheduler steps in the cycle.", {}, 2});
    v.field("pct_start", pct_start, {"Fraction of the cycle spent increasing the rate.", {}, 0.0, 1.0});
    v.field("div_factor", div_factor, {"Initial rate = max_lr / div_factor.", {}, 1e-12});
    v.field("final_div_factor", final_div_factor, {"Final rate = initial rate / final_div_factor.", {}, 1e-12});
    visit_schedule(v);
  }
};
class OneCycleScheduler : public LrScheduler {
 public:
  OneCycleScheduler(torch::optim::Optimizer& optimizer, const OneCycleArgs& args)
      : LrScheduler(optimizer, args), args_(args) { apply(); }
  double rate(int64_t count, double) const override {
    const double initial = args_.max_lr / args_.div_factor;
    const double minimum = initial / args_.final_div_factor;
    const double warm_end = args_.pct_start * static_cast<double>(args_.total_steps) - 1.0;
    const double end = static_cast<double>(args_.total_steps) - 1.0;
    const auto t = static_cast<double>(count);
    if (t <= warm_end) return cosine_anneal(initial, args_.max_lr, t / warm_end);
    return cosine_anneal(args_.max_lr, minimum, (t - warm_end) / (end - warm_end));
  }

 private:
  OneCycleArgs args_;
};

struct PlateauArgs : config::Args, ScheduleArgs {
  std::string monitor = "val/loss";
  std::string mode = "min";
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  int64_t cooldown = 0;
  double min_lr = 0.0;
  void visit(config::FieldVisitor& v) override {
    v.field("monitor", monitor, {"Logged metric to watch, e.g. val/loss."});
    v.field("mode", mode, {"Whether lower ('min') or higher ('max') is better.", {"min", "max"}});
    v.field("factor", factor, {"Multiply the rate by this when the metric stops improving.", {}, 0.0, 1.0});
    v.field("patience", patience, {"Checks without improvement before reducing.", {}, 0});
    v.field("threshold", threshold, {"Relative change that counts as an improvement.", {}, 0.0});
    v.field("cooldown", cooldown, {"Checks to wait after a reduction before counting again.", {}, 0});
    v.field("min_lr", min_lr, {"Lower bound of the rate.", {}, 0.0});
    visit_schedule(v);
  }
};
/// Reduces the rate when a monitored metric stops improving (as torch's ReduceLROnPlateau
/// with threshold_mode 'rel'). Its state is the best value and the counters, not a count.
class PlateauScheduler : public LrScheduler {
 public:
  PlateauScheduler(torch::optim::Optimizer& optimizer, const PlateauArgs& args)
      : LrScheduler(optimizer, args), args_(args), best_(args.mode == "min" ? INFINITY : -INFINITY) {
    scale_ = 1.0;
    apply();
  }
  std::string monitor() const override { return args_.monitor; }

 protected:
  double rate(int64_t, double base) const override { return std::max(base * scale_, args_.min_lr); }
  void observe(std::optional<double> metric) override {
    if (!metric || std::isnan(*metric)) return;
    const bool better = args_.mode == "min" ? *metric < best_ * (1.0 - args_.threshold)
                                            : *metric > best_ * (1.0 + args_.threshold);
    if (better) {
      best_ = *metric;
      bad_checks_ = 0;
    } else {
      ++bad_checks_;
    }
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      bad_checks_ = 0;
    }
    if (bad_checks_ > args_.patience) {
      scale_ *= args_.factor;
      cooldown_left_ = args_.cooldown;
      bad_checks_ = 0;
    }
  }
  void save_extra(std::map<std::string, double>& state) const override {
    state["best"] = best_;
    state["bad_checks"] = static_cast<double>(bad_checks_);
    state["cooldown_left"] = static_cast<double>(cooldown_left_);
    state["scale"] = scale_;
  }
  void load_extra(const std::map<std::string, double>& state) override {
    best_ = state.at("best");
    bad_checks_ = static_cast<int64_t>(state.at("bad_checks"));
    cooldown_left_ = static_cast<int64_t>(state.at("cooldown_left"));
    scale_ = state.at("scale");
  }

 private:
  PlateauArgs args_;
  double best_;
  int64_t bad_checks_ = 0;
  int64_t cooldown_left_ = 0;
  double scale_ = 1.0;
};

}  // namespace

void ScheduleArgs::visit_schedule(config::FieldVisitor& v) {
  v.field("interval", interval, {"Advance the schedule after every optimizer 'step' or every 'epoch'.",
                                 {"step", "epoch"}});
  v.field("frequency", frequency, {"Advance only every N-th interval.", {}, 1});
}

LrScheduler::LrScheduler(torch::optim::Optimizer& optimizer, const ScheduleArgs& args)
    : optimizer_(optimizer), interval_(args.interval), frequency_(args.frequency) {
  for (const auto& group : optimizer_.param_groups()) base_lrs_.push_back(group.options().get_lr());
}

void LrScheduler::interval_end(std::optional<double> metric) {
  ++intervals_;
  if (intervals_ % frequency_ != 0) return;
  ++count_;
  observe(metric);
  apply();
}

void LrScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(rate(count_, base_lrs_[i]));
}

std::vector<double> LrScheduler::learning_rates() const {
  std::vector<double> rates;
  for (const auto& group : optimizer_.param_groups()) rates.push_back(group.options().get_lr());
  return rates;
}

std::map<std::string, double> LrScheduler::state() const {
  std::map<std::string, double> state{{"count", static_cast<double>(count_)},
                                      {"intervals", static_cast<double>(intervals_)}};
  save_extra(state);
  return state;
}

void LrScheduler::load_state(const std::map<std::string, double>& state) {
  count_ = static_cast<int64_t>(state.at("count"));
  intervals_ = static_cast<int64_t>(state.at("intervals"));
  load_extra(state);
  apply();
}

SchedulerRegistry& scheduler_registry() {
  static SchedulerRegistry registry = [] {
    SchedulerRegistry r;
    using Opt = torch::optim::Optimizer;
    r.add<StepArgs>("step", "Multiply the rate by gamma every step_size intervals",
                    [](const StepArgs& a, Opt& o) -> SchedulerPtr { return std::make_unique<StepScheduler>(o, a); });
    r.add<MultiStepArgs>("multistep", "Multiply the rate by gamma at each milestone",
                         [](const MultiStepArgs& a, Opt& o) -> SchedulerPtr {
                           return std::make_unique<MultiStepScheduler>(o, a);
                         });
    r.add<ExponentialArgs>("exponential", "Multiply the rate by gamma every interval",
                           [](const ExponentialArgs& a, Opt& o) -> SchedulerPtr {
                             return std::make_unique<ExponentialScheduler>(o, a);
                           });
    r.add<CosineArgs>("cosine", "Cosine annealing from the base rate to eta_min over t_max intervals",
                      [](const CosineArgs& a, Opt& o) -> SchedulerPtr { return std::make_unique<CosineScheduler>(o, a); });
    r.add<WarmupArgs>("warmup_cosine", "Linear warmup, then cosine decay to eta_min",
                      [](const WarmupArgs& a, Opt& o) -> SchedulerPtr {
                        return std::make_unique<WarmupScheduler>(o, a, true);
                      });
    r.add<WarmupArgs>("warmup_linear", "Linear warmup, then linear decay to eta_min",
                      [](const WarmupArgs& a, Opt& o) -> SchedulerPtr {
                        return std::make_unique<WarmupScheduler>(o, a, false);
                      });
    r.add<OneCycleArgs>("one_cycle", "One-cycle policy: up to max_lr, then down far below the start",
                        [](const OneCycleArgs& a, Opt& o) -> SchedulerPtr {
                          return std::make_unique<OneCycleScheduler>(o, a);
                        });
    r.add<PlateauArgs>("reduce_on_plateau", "Reduce the rate when a monitored metric stops improving",
                       [](const PlateauArgs& a, Opt& o) -> SchedulerPtr { return std::make_unique<PlateauScheduler>(o, a); });
    return r;
  }();
  return registry;
}

}  // namespace trainer::optim
