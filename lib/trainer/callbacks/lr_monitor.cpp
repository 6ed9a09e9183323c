// LearningRateMonitor: logs the learning rate of every optimizer parameter group.

#include "trainer/callbacks/callback.h"

namespace trainer::callbacks {
namespace {

struct LrMonitorArgs : config::Args {
  std::string logging_interval = "epoch";
  int64_t every_n_steps = 50;

  void visit(config::FieldVisitor& v) override {
    v.field("logging_interval", logging_interval, {"Log after each 'step' or each 'epoch'.", {"step", "epoch"}});
    v.field("every_n_steps", every_n_steps, {"With logging_interval 'step', log every N optimizer steps.", {}, 1});
  }
};

class LrMonitor : public Callback {
 public:
  explicit LrMonitor(const LrMonitorArgs& args) : args_(args) {}

  void on_fit_start(CallbackContext& context) override { log(context); }
  void on_train_step_end(CallbackContext& context) override {
    if (args_.logging_interval == "step" && context.global_step() % args_.every_n_steps == 0) log(context);
  }
  void on_train_epoch_end(CallbackContext& context) override {
    if (args_.logging_interval == "epoch") log(context);
  }

 private:
  static void log(CallbackContext& context) {
    const std::vector<double> rates = context.learning_rates();
    logging::Metrics metrics;
    for (size_t i = 0; i < rates.size(); ++i) metrics.emplace_back("lr/pg" + std::to_string(i), rates[i]);
    context.log_metrics(metrics);
  }

  LrMonitorArgs args_;
};

}  // namespace

void register_lr_monitor(CallbackRegistry& registry) {
  registry.add<LrMonitorArgs>("lr_monitor", "Log the learning rate of each parameter group",
                              [](const LrMonitorArgs& args) -> std::unique_ptr<Callback> {
                                return std::make_unique<LrMonitor>(args);
                              });
}

}  // namespace trainer::callbacks
