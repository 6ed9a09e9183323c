// EarlyStopping: ends fit when a monitored metric stops improving, crosses a threshold or
// stops being finite. Checked after every validation run.

#include <spdlog/spdlog.h>

#include <cmath>

#include "core/errors.h"
#include "logging/metrics.h"
#include "trainer/callbacks/callback.h"

namespace trainer::callbacks {
namespace {

struct EarlyStoppingArgs : config::Args {
  std::string monitor = "val/loss";
  std::string mode = "min";
  int64_t patience = 3;
  double min_delta = 0.0;
  double stopping_threshold = std::nan("");
  double divergence_threshold = std::nan("");
  bool check_finite = true;

  void visit(config::FieldVisitor& v) override {
    v.field("monitor", monitor, {"Metric to watch, e.g. val/loss."});
    v.field("mode", mode, {"Whether lower ('min') or higher ('max') is better.", {"min", "max"}});
    v.field("patience", patience, {"Validation runs without improvement before stopping.", {}, 0});
    v.field("min_delta", min_delta, {"Smallest change that counts as an improvement.", {}, 0.0});
    v.field("stopping_threshold", stopping_threshold,
            {"Stop as soon as the metric is this good; .nan is off."});
    v.field("divergence_threshold", divergence_threshold,
            {"Stop as soon as the metric is worse than this; .nan is off."});
    v.field("check_finite", check_finite, {"Stop when the metric becomes NaN or infinite."});
  }
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(const EarlyStoppingArgs& args)
      : args_(args), best_(args.mode == "min" ? INFINITY : -INFINITY) {}

  void on_validation_end(CallbackContext& context) override {
    const auto it = context.metrics().find(args_.monitor);
    if (it == context.metrics().end()) {
      std::string logged;
      for (const auto& [name, value] : context.metrics()) logged += (logged.empty() ? "" : ", ") + name;
      throw UsageError("early_stopping monitors '" + args_.monitor + "', which is not logged; logged metrics: " +
                       (logged.empty() ? std::string("none") : logged));
    }
    const double value = it->second.value;
    const bool min_mode = args_.mode == "min";

    if (args_.check_finite && !std::isfinite(value)) {
      return stop(context, args_.monitor + " = " + logging::format_metric(value) + " is not finite");
    }
    if (!std::isnan(args_.stopping_threshold) &&
        (min_mode ? value < args_.stopping_threshold : value > args_.stopping_threshold)) {
      return stop(context, args_.monitor + " = " + logging::format_metric(value) + " reached the stopping threshold " +
                               logging::format_metric(args_.stopping_threshold));
    }
    if (!std::isnan(args_.divergence_threshold) &&
        (min_mode ? value > args_.divergence_threshold : value < args_.divergence_threshold)) {
      return stop(context, args_.monitor + " = " + logging::format_metric(value) + " is past the divergence threshold " +
                               logging::format_metric(args_.divergence_threshold));
    }

    const bool improved = min_mode ? value < best_ - args_.min_delta : value > best_ + args_.min_delta;
    if (improved) {
      best_ = value;
      wait_ = 0;
      return;
    }
    ++wait_;
    if (wait_ >= args_.patience) {
      stop(context, args_.monitor + " did not improve for " + std::to_string(wait_) + " validation runs (best " +
                        logging::format_metric(best_) + ")");
    }
  }

  CallbackState state() const override {
    return {{"best", logging::format_metric(best_)}, {"wait", std::to_string(wait_)}};
  }

  void load_state(const CallbackState& state) override {
    if (state.count("best")) best_ = std::stod(state.at("best"));
    if (state.count("wait")) wait_ = std::stoll(state.at("wait"));
  }

  std::string summary() const override { return reason_.empty() ? "" : "early stopping: " + reason_; }

 private:
  void stop(CallbackContext& context, const std::string& reason) {
    reason_ = reason;
    context.request_stop("early_stopping: " + reason);
  }

  EarlyStoppingArgs args_;
  double best_;
  int64_t wait_ = 0;
  std::string reason_;
};

}  // namespace

void register_early_stopping(CallbackRegistry& registry) {
  registry.add<EarlyStoppingArgs>("early_stopping", "Stop when a monitored metric stops improving",
                                  [](const EarlyStoppingArgs& args) -> std::unique_ptr<Callback> {
                                    return std::make_unique<EarlyStopping>(args);
                                  });
}

}  // namespace trainer::callbacks
