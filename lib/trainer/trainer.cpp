#include "trainer/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <torch/types.h>  // clip_grad.h uses torch::Tensor without including it
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/optimizer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "accelerator/accelerator_connector.h"
#include "accelerator/distributed.h"
#include "config/diff.h"
#include "config/duration.h"
#include "config/node.h"
#include "core/errors.h"
#include "core/signals.h"
#include "data/data_connector.h"
#include "logging/logger_connector.h"
#include "models/model.h"
#include "optim/optimizers.h"
#include "optim/schedulers.h"
#include "trainer/checkpoint.h"

namespace trainer {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// Keys whose change makes a resumed run meaningless: the model, the data and its split.
bool changes_model_or_data(const std::string& key) {
  return key.rfind("model.", 0) == 0 || key == "data.class_path" || key == "seed_everything" ||
         (key.rfind("data.init_args.", 0) == 0 &&
          (key.find("root") != std::string::npos || key.find("path") != std::string::npos ||
           key.find("val_size") != std::string::npos));
}

}  // namespace

/// The resolved shape of one fit: batches per stage after limits, fast_dev_run and overfitting.
struct Trainer::Plan {
  int64_t train_batches = 0;
  int64_t val_batches = 0;  ///< this rank's; 0 on a rank whose shard of the validation set is empty
  bool validate = false;    ///< some rank has validation batches, so every rank validates
  int64_t steps_per_epoch = 0;  ///< optimizer steps: ceil(train_batches / accumulate_grad_batches)
  int64_t max_epochs = -1;
  bool overfit = false;
  bool write_checkpoints = true;
  bool sanity_check = true;
};

/// The callbacks' view of the loop.
class Trainer::Context : public callbacks::CallbackContext {
 public:
  explicit Context(Trainer& trainer) : trainer_(trainer) {}
  int64_t epoch() const override { return trainer_.epoch_; }
  int64_t global_step() const override { return trainer_.global_step_; }
  const callbacks::MetricHistory& metrics() const override { return trainer_.history_; }
  std::string checkpoint_dir() const override { return trainer_.checkpoint_dir_; }
  void save_checkpoint(const std::string& path) override {
    if (!trainer_.checkpoint_dir_.empty()) trainer_.save_state(path);
  }
  void request_stop(const std::string& reason) override {
    trainer_.stop_requested_ = true;
    trainer_.stop_reason_ = reason;
  }
  std::vector<double> learning_rates() const override {
    std::vector<double> rates;
    for (const auto& group : trainer_.optimizer_->param_groups()) rates.push_back(group.options().get_lr());
    return rates;
  }
  void log_metrics(const logging::Metrics& metrics) override {
    trainer_.record(metrics);
    trainer_.logger_.log_metrics(trainer_.epoch_, trainer_.global_step_, metrics);
  }

 private:
  Trainer& trainer_;
};

Trainer::Trainer(const config::TrainerSettings& settings, const config::ModelSettings& model,
                 const config::OptimizerSettings& optimizer, const config::SchedulerSettings& scheduler,
                 accelerator::AcceleratorConnector& accelerator, logging::LoggerConnector& logger,
                 data::DataConnector& data)
    : settings_(settings), model_class_(model.class_path), accelerator_(accelerator), logger_(logger), data_(data) {
  const models::ModelRegistry::Entry* model_entry = models::model_registry().find(model.class_path);
  const optim::OptimizerRegistry::Entry* optimizer_entry = optim::optimizer_registry().find(optimizer.class_path);
  if (model_entry == nullptr || !model.args) throw UsageError("unknown model '" + model.class_path + "'");
  if (optimizer_entry == nullptr || !optimizer.args) {
    throw UsageError("unknown optimizer '" + optimizer.class_path + "'");
  }

  model_ = model_entry->build(*model.args, data_.spec());
  accelerator_.prepare(*model_);
  optimizer_ = optimizer_entry->build(*optimizer.args, model_->parameters());
  if (!scheduler.class_path.empty()) {
    const optim::SchedulerRegistry::Entry* entry = optim::scheduler_registry().find(scheduler.class_path);
    if (entry == nullptr || !scheduler.args) throw UsageError("unknown lr_scheduler '" + scheduler.class_path + "'");
    scheduler_ = entry->build(*scheduler.args, *optimizer_);
  }
  for (const config::Component& component : settings_.callbacks) {
    const callbacks::CallbackRegistry::Entry* entry = callbacks::callback_registry().find(component.class_path);
    if (entry == nullptr || !component.args) throw UsageError("unknown callback '" + component.class_path + "'");
    callbacks_.push_back(entry->build(*component.args));
    has_checkpoint_callback_ = has_checkpoint_callback_ || component.class_path == "model_checkpoint";
  }
  gradient_reducer_ = accelerator_.make_gradient_reducer(model_->parameters());
  scaler_ = std::make_unique<accelerator::GradScaler>(accelerator_.make_grad_scaler());
  // Test hook for loss scaling, which only '16-mixed' on CUDA enables:
  // TRAINER_TEST_GRAD_SCALER="INIT_SCALE[,GROWTH_INTERVAL]" turns it on at any precision.
  if (const char* hook = std::getenv("TRAINER_TEST_GRAD_SCALER")) {
    accelerator::GradScalerOptions options;
    char* rest = nullptr;
    options.init_scale = std::strtod(hook, &rest);
    if (rest != nullptr && *rest == ',') options.growth_interval = std::strtoll(rest + 1, nullptr, 10);
    scaler_ = std::make_unique<accelerator::GradScaler>(options);
  }
  if (const auto seconds = config::parse_duration_seconds(settings_.max_time)) max_time_seconds_ = *seconds;
  // Test hook for failure handling: TRAINER_TEST_FAIL_RANK=R (and TRAINER_TEST_FAIL_STEP=K,
  // default 1) makes rank R throw after optimizer step K.
  const char* fail_rank = std::getenv("TRAINER_TEST_FAIL_RANK");
  if (fail_rank != nullptr && std::atoll(fail_rank) == accelerator_.rank()) {
    const char* fail_step = std::getenv("TRAINER_TEST_FAIL_STEP");
    fail_at_step_ = fail_step != nullptr ? std::atoll(fail_step) : 1;
  }
}

Trainer::~Trainer() = default;

Trainer::Plan Trainer::plan_fit() const {
  Plan plan;
  data::Loader& train = data_.train_loader();
  plan.max_epochs = settings_.max_epochs;
  plan.train_batches = settings_.limit_train_batches.resolve(train.num_batches());
  plan.val_batches = data_.val_loader().num_samples() > 0
                         ? settings_.limit_val_batches.resolve(data_.val_loader().num_batches())
                         : 0;
  plan.write_checkpoints = settings_.enable_checkpointing;
  plan.sanity_check = settings_.num_sanity_val_steps > 0;

  if (settings_.overfit_batches.value > 0) {
    // The same first training batches every epoch, validated on themselves.
    plan.overfit = true;
    plan.train_batches = settings_.overfit_batches.resolve(train.num_batches());
    plan.val_batches = plan.train_batches;
  }
  if (settings_.fast_dev_run.value > 0) {
    const int64_t batches = settings_.fast_dev_run.value;
    plan.train_batches = std::min(batches, plan.train_batches);
    plan.val_batches = std::min(batches, plan.val_batches);
    plan.max_epochs = 1;
    plan.write_checkpoints = false;
    plan.sanity_check = false;
  }
  if (train.num_batches() == 0 && accelerator_.world_size() > 1) {
    const int64_t share = train.num_samples();
    throw UsageError("no training batches: the training set's " + std::to_string(train.dataset_size()) +
                     " samples give each of the " + std::to_string(accelerator_.world_size()) + " ranks " +
                     std::to_string(share) + ", fewer than one batch of " + std::to_string(train.batch_size()) +
                     (share == 0 ? "; use at most " + std::to_string(train.dataset_size()) + " devices"
                                 : "; lower data.init_args.batch_size to at most " + std::to_string(share) +
                                       ", set data.init_args.drop_last to false, or use fewer devices"));
  }
  if (train.num_batches() == 0) {
    const std::string samples = std::to_string(train.num_samples());
    throw UsageError("no training batches: the training set's " + samples +
                     " samples do not fill one batch and drop_last discards the partial one; set "
                     "data.init_args.batch_size to at most " + samples + " or data.init_args.drop_last to false");
  }
  if (plan.train_batches == 0) {
    throw UsageError("no training batches: the limits leave 0 of the training set's " +
                     std::to_string(train.num_batches()) + " batches; raise trainer.limit_train_batches");
  }
  plan.steps_per_epoch = (plan.train_batches + settings_.accumulate_grad_batches - 1) / settings_.accumulate_grad_batches;
  // In a ddp run a rank may have fewer validation samples than others, even none. It still
  // validates whenever any rank does, so that every rank joins the metric reductions.
  plan.validate = max_over_ranks(plan.val_batches) > 0;
  return plan;
}

logging::Metrics Trainer::fit(const std::string& config_yaml, const FitOptions& options) {
  config_yaml_ = config_yaml;
  fitting_ = true;
  const Plan plan = plan_fit();
  if (!options.ckpt_path.empty()) resume_from(options);

  logger_.begin_run(config_yaml);
  if (plan.write_checkpoints && !logger_.run_dir().empty()) {
    checkpoint_dir_ = (std::filesystem::path(logger_.run_dir()) / "checkpoints").string();
    std::filesystem::create_directories(checkpoint_dir_);
  }
  const int64_t parameters = models::count_parameters(*model_);
  spdlog::info("fit model={} parameters={} ({:.2f} MB) {} train_samples={} val_samples={} batches_per_epoch={} "
               "steps_per_epoch={}",
               model_class_, parameters, static_cast<double>(parameters) * 4 / 1e6, accelerator_.describe(),
               data_.train_loader().num_samples(), data_.val_loader().num_samples(), plan.train_batches,
               plan.steps_per_epoch);
  logger_.log_model_summary(*model_);

  broadcast_model_state();
  Context context(*this);
  fit_start_ = Clock::now();
  for (auto& callback : callbacks_) callback->on_fit_start(context);
  if (plan.sanity_check && plan.validate) {
    data::Loader& loader = plan.overfit ? data_.train_loader() : data_.val_loader();
    const logging::Metrics sanity = evaluate("val", loader, std::min(settings_.num_sanity_val_steps, plan.val_batches));
    spdlog::debug("sanity check passed: {}", logging::format_metrics(sanity));
  }

  optimizer_->zero_grad();
  while (!poll_stop_signal() && (plan.max_epochs < 0 || epoch_ < plan.max_epochs)) {
    train_epoch(plan, context);
    if (!epoch_finished_) break;  // stopped inside the epoch
    epoch_ += 1;
    batch_in_epoch_ = 0;
    epoch_finished_ = false;
  }

  const bool stopped_mid_epoch = batch_in_epoch_ > 0;
  if (stopped_mid_epoch && accelerator_.world_size() > 1) {
    // Every rank stops after the same step, so all take part in this reduction. Rank 0
    // saves the totals, and a resume restores them on rank 0 alone.
    ddp_epoch_metrics_ = logger_.epoch_state("train", /*across_ranks=*/true);
  }
  if (plan.write_checkpoints && !checkpoint_dir_.empty() && (stopped_mid_epoch || last_checkpoint_.empty() || stop_signal_ != 0)) {
    save_state((std::filesystem::path(checkpoint_dir_) / "last.ckpt").string());  // always resumable
  }
  for (auto& callback : callbacks_) callback->on_fit_end(context);

  logging::RunSummary summary;
  summary.status = stop_signal_ != 0 ? "interrupted" : "finished";
  summary.epoch = epoch_;
  summary.step = global_step_;
  summary.seconds = seconds_since(fit_start_);
  summary.train_samples = fit_samples_;
  summary.stop_reason = stop_reason_;
  for (const auto& callback : callbacks_) summary.notes.push_back(callback->summary());
  for (const auto& [name, value] : history_) summary.last_metrics.emplace_back(name, value.value);
  logger_.end_run(summary);
  if (stop_signal_ != 0) {
    // The checkpoint is saved and every logger has written its lines; the exit code
    // lets the scheduler know why the run ended.
    throw InterruptedError(stop_exit_code(stop_signal_),
                           stop_reason_ + "; " +
                               (last_checkpoint_.empty() ? std::string("saved no checkpoint")
                                                         : "saved '" + last_checkpoint_ + "'") +
                               " at epoch=" + std::to_string(epoch_) +
                               " step=" + std::to_string(global_step_) + "; resume with fit --ckpt_path last");
  }
  return newest_metrics();
}

logging::Metrics Trainer::newest_metrics() const {
  logging::Metrics newest;
  for (const auto& [name, value] : history_) newest.emplace_back(name, value.value);
  return newest;
}

void Trainer::train_epoch(const Plan& plan, Context& context) {
  data::Loader& loader = data_.train_loader();
  loader.set_epoch(plan.overfit ? 0 : epoch_);
  model_->train();
  const int64_t accumulate = settings_.accumulate_grad_batches;
  const auto epoch_start = Clock::now();
  int64_t epoch_samples = 0;

  // A resumed epoch starts at the saved batch, which is always a window boundary.
  while (batch_in_epoch_ < plan.train_batches && !stop_requested_) {
    const int64_t begin = batch_in_epoch_;
    const int64_t end = std::min(begin + accumulate, plan.train_batches);
    double window_loss = 0;
    const bool stepped = train_window(loader, begin, end, window_loss, epoch_samples);
    batch_in_epoch_ = end;
    if (!stepped) continue;

    ++global_step_;
    if (global_step_ == fail_at_step_) {
      throw std::runtime_error("TRAINER_TEST_FAIL_RANK: rank " + std::to_string(accelerator_.rank()) +
                               " fails on purpose after step " + std::to_string(global_step_));
    }
    logger_.show_progress("train", epoch_, batch_in_epoch_, plan.train_batches);
    if (scheduler_ && scheduler_->per_step()) {
      const auto it = history_.find(scheduler_->monitor());
      scheduler_->interval_end(it == history_.end() ? std::nullopt : std::optional<double>(it->second.value));
    }
    const int64_t step_in_epoch = (batch_in_epoch_ + accumulate - 1) / accumulate;
    if (validation_due(plan, step_in_epoch)) run_validation(plan, context);
    for (auto& callback : callbacks_) callback->on_train_step_end(context);

    if (logger_.step_due(global_step_)) {
      logging::Metrics step_metrics{{"train/loss_step", window_loss}};
      if (scaler_->enabled()) step_metrics.emplace_back("train/loss_scale", scaler_->current_scale());
      record(step_metrics);
      logger_.log_step(epoch_, global_step_, step_metrics,
                       fmt::format("epoch={} batch={}/{} step={}", epoch_, batch_in_epoch_, plan.train_batches,
                                   global_step_));
    }
    check_stop_conditions();
    poll_stop_signal();
  }
  if (batch_in_epoch_ < plan.train_batches) return;  // stopped inside the epoch

  // Epoch end: metrics, the epoch's scheduler step, then callbacks (which may save).
  const double seconds = seconds_since(epoch_start);
  const logging::Metrics metrics = logger_.reduce("train");
  record(metrics);
  logger_.log_epoch(epoch_, global_step_, metrics,
                    fmt::format("epoch={} step={} time={:.1f}s train_samples/s={:.0f}", epoch_, global_step_, seconds,
                                static_cast<double>(epoch_samples) / seconds));
  if (scheduler_ && !scheduler_->per_step()) {
    const auto it = history_.find(scheduler_->monitor());
    if (!scheduler_->monitor().empty() && it == history_.end()) {
      spdlog::warn("lr_scheduler monitors '{}', which has not been logged; the rate stays as it is",
                   scheduler_->monitor());
    }
    scheduler_->interval_end(it == history_.end() ? std::nullopt : std::optional<double>(it->second.value));
  }
  epoch_finished_ = true;
  for (auto& callback : callbacks_) callback->on_train_epoch_end(context);
  if (plan.write_checkpoints && !has_checkpoint_callback_ && !checkpoint_dir_.empty()) {
    save_state((std::filesystem::path(checkpoint_dir_) / "last.ckpt").string());
  }
}

bool Trainer::train_window(data::Loader& loader, int64_t begin, int64_t end, double& window_loss, int64_t& samples) {
  const auto window = static_cast<double>(end - begin);
  bool finite = true;
  for (int64_t index = begin; index < end; ++index) {
    const data::Batch batch = to_device(loader.batch(index));
    // In a ddp run the window's last backward all-reduces the gradients as they arrive.
    if (gradient_reducer_ && index == end - 1) gradient_reducer_->arm();
    models::StepOutput output = run_step(batch, /*with_metrics=*/false, "training", index);
    // NOTE: reading the loss every batch synchronises a CUDA device; on CPU it is free.
    const double loss_value = output.loss.item<double>();
    if (!std::isfinite(loss_value)) {
      const std::string where = "train/loss is " + logging::format_metric(loss_value) + " at epoch " +
                                std::to_string(epoch_) + " batch " + std::to_string(index) + " (step " +
                                std::to_string(global_step_) + ")";
      if (settings_.on_nonfinite_loss == "raise") {
        throw DivergedError(where + "; the last good checkpoint is '" +
                            (last_checkpoint_.empty() ? std::string("none yet") : last_checkpoint_) +
                            "'; lower the learning rate, check the data, or set trainer.on_nonfinite_loss=skip");
      }
      spdlog::warn("{}; skipping this optimizer step", where);
      finite = false;
      continue;
    }
    // Each batch contributes its mean loss / window size, so a short last window is a
    // full-weight step and every window's gradient is the mean over its batches.
    scaler_->scale(output.loss.div(window)).backward();
    logger_.accumulate("train/loss", output.loss.detach().mul(static_cast<double>(output.count)), output.count);
    window_loss += loss_value / window;
    samples += batch.size();
    fit_samples_ += batch.size();
  }
  // Before any other collective: every rank starts its buckets in the same order, also
  // a rank that skipped the last backward.
  if (gradient_reducer_) gradient_reducer_->finish();
  if (accelerator_.process_group() != nullptr) {
    // Every rank skips the step when any rank saw a non-finite loss, so the ranks keep
    // taking the same steps and meet in the same collectives.
    at::Tensor all_finite = at::scalar_tensor(finite ? 1.0 : 0.0, at::kDouble);
    accelerator_.process_group()->all_reduce(all_finite, logging::Reduction::min);
    finite = all_finite.item<double>() > 0;
  }
  if (!finite) {
    optimizer_->zero_grad();
    return false;
  }
  // After the all-reduce every rank has the same gradients, so all agree on an overflow.
  if (scaler_->unscale_and_find_inf(model_->parameters())) {
    // The step counts, as in torch.cuda.amp: only the update is skipped, and the scale falls.
    optimizer_->zero_grad();
    const double scale = scaler_->current_scale();
    scaler_->update(/*found_inf=*/true);
    spdlog::debug("gradients overflowed at loss scale {} in step {}; skipped the update, the scale is now {}", scale,
                  global_step_ + 1, scaler_->current_scale());
    return true;
  }

  if (settings_.gradient_clip_val > 0) {
    if (settings_.gradient_clip_algorithm == "value") {
      torch::nn::utils::clip_grad_value_(model_->parameters(), settings_.gradient_clip_val);
    } else {
      torch::nn::utils::clip_grad_norm_(model_->parameters(), settings_.gradient_clip_val);
    }
  }
  optimizer_->step();
  optimizer_->zero_grad();
  scaler_->update(/*found_inf=*/false);
  return true;
}

bool Trainer::validation_due(const Plan& plan, int64_t step_in_epoch) const {
  if (!plan.validate) return false;
  const config::BatchLimit& interval = settings_.val_check_interval;
  if (!interval.is_fraction) {
    // An int counts optimizer steps across epochs.
    const auto every = static_cast<int64_t>(interval.value);
    return every > 0 && global_step_ % every == 0;
  }
  if (interval.value <= 0 || (epoch_ + 1) % settings_.check_val_every_n_epoch != 0) return false;
  // Validate after each fraction of the epoch's optimizer steps: at round(k × f × steps).
  const auto checks = static_cast<int64_t>(std::floor(1.0 / interval.value + 1e-9));
  for (int64_t k = 1; k <= checks; ++k) {
    const int64_t at = std::max<int64_t>(
        1, std::llround(static_cast<double>(k) * interval.value * static_cast<double>(plan.steps_per_epoch)));
    if (step_in_epoch == at) return true;
  }
  return false;
}

void Trainer::run_validation(const Plan& plan, Context& context) {
  data::Loader& loader = plan.overfit ? data_.train_loader() : data_.val_loader();
  const logging::Metrics metrics = evaluate("val", loader, plan.val_batches);
  record(metrics);
  logger_.log_epoch(epoch_, global_step_, metrics, fmt::format("validation epoch={} step={}", epoch_, global_step_));
  for (auto& callback : callbacks_) callback->on_validation_end(context);
}

void Trainer::check_stop_conditions() {
  if (settings_.max_steps >= 0 && global_step_ >= settings_.max_steps) {
    stop_requested_ = true;
    stop_reason_ = "max_steps=" + std::to_string(settings_.max_steps) + " reached";
  }
  if (max_time_seconds_ >= 0 && seconds_since(fit_start_) >= max_time_seconds_) {
    stop_requested_ = true;
    stop_reason_ = "max_time=" + settings_.max_time + " reached";
  }
}

int64_t Trainer::max_over_ranks(int64_t value) const {
  accelerator::ProcessGroup* group = accelerator_.process_group();
  if (group == nullptr) return value;
  at::Tensor tensor = at::scalar_tensor(value, at::kLong);
  group->all_reduce(tensor, logging::Reduction::max);
  return tensor.item<int64_t>();
}

void Trainer::broadcast_model_state() {
  accelerator::ProcessGroup* group = accelerator_.process_group();
  if (group == nullptr) return;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors = model_->parameters();
  for (const at::Tensor& buffer : model_->buffers()) tensors.push_back(buffer);
  group->broadcast(tensors);
}

void Trainer::synchronize_stop() {
  accelerator::ProcessGroup* group = accelerator_.process_group();
  if (group == nullptr) return;
  at::Tensor flags = at::tensor({stop_requested_ ? 1.0 : 0.0, static_cast<double>(stop_signal_)}, at::kDouble);
  group->all_reduce(flags, logging::Reduction::max);
  if (flags[0].item<double>() > 0 && !stop_requested_) {
    stop_requested_ = true;
    stop_reason_ = "stop requested by another rank";
  }
  const int signal = static_cast<int>(flags[1].item<double>());
  if (signal != 0 && stop_signal_ == 0) {
    stop_signal_ = signal;
    stop_reason_ = signal_name(signal) + " received by another rank";
  }
}

bool Trainer::poll_stop_signal() {
  const int signal = received_stop_signal();
  if (signal != 0 && stop_signal_ == 0) {
    stop_signal_ = signal;
    stop_requested_ = true;
    stop_reason_ = signal_name(signal) + " received";
    spdlog::warn("{} received at epoch={} step={}; saving a checkpoint and stopping", signal_name(signal), epoch_,
                 global_step_);
  }
  // Every caller polls at the same point of the loop on every rank, so this all-reduce
  // lines up across ranks.
  synchronize_stop();
  return stop_requested_;
}

models::StepOutput Trainer::run_step(const data::Batch& batch, bool with_metrics, const std::string& stage,
                                     int64_t index) {
  std::string cause;
  try {
    auto autocast = accelerator_.autocast();
    return model_->step(batch, with_metrics);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& error) {
    cause = error.what_without_backtrace();
  } catch (const std::runtime_error& error) {  // some LibTorch shape checks throw these
    cause = error.what();
  }
  cause = cause.substr(0, cause.find('\n'));
  const std::string where = "model '" + model_class_ + "' failed on " + stage + " batch " + std::to_string(index) +
                            " (inputs of shape " + std::string(c10::str(batch.inputs.sizes())) +
                            ", targets of shape " + std::string(c10::str(batch.targets.sizes())) + ")";
  if (cause.find("out of bounds") != std::string::npos && batch.targets.numel() > 0 &&
      !batch.targets.is_floating_point()) {
    throw DataError(where + ": a label is outside the model's classes (labels in this batch range from " +
                    std::to_string(batch.targets.min().item<int64_t>()) + " to " +
                    std::to_string(batch.targets.max().item<int64_t>()) + "): " + cause +
                    "; fix the labels or give the model as many outputs as there are classes");
  }
  throw UsageError(where + ": " + cause + "; check that the data's sample shape fits the model");
}

void Trainer::record(const logging::Metrics& metrics) {
  for (const auto& [name, value] : metrics) {
    history_[name] = {value, global_step_, epoch_};
    const bool stage_metric = name.rfind("train/", 0) == 0 || name.rfind("val/", 0) == 0 || name.rfind("test/", 0) == 0;
    if (!stage_metric || std::isnan(value)) continue;
    const bool higher_is_better = name.find("acc") != std::string::npos;
    auto it = std::find_if(best_metrics_.begin(), best_metrics_.end(), [&](const auto& best) { return best.first == name; });
    if (it == best_metrics_.end()) {
      best_metrics_.emplace_back(name, value);
    } else if (higher_is_better ? value > it->second : value < it->second) {
      it->second = value;
    }
  }
}

std::optional<callbacks::BestCheckpoint> Trainer::best_checkpoint() const {
  for (const auto& callback : callbacks_) {
    if (auto best = callback->best_checkpoint()) return best;
  }
  return std::nullopt;
}

uint64_t Trainer::estimated_checkpoint_bytes() const {
  uint64_t bytes = 1 << 20;
  for (const at::Tensor& parameter : model_->parameters()) bytes += 3 * parameter.nbytes();
  return bytes;
}

void Trainer::save_state(const std::string& path) {
  CheckpointInfo info;
  info.epoch = epoch_finished_ ? epoch_ + 1 : epoch_;
  info.batch_in_epoch = epoch_finished_ ? 0 : batch_in_epoch_;
  info.global_step = global_step_;
  info.model_class = model_class_;
  info.config_yaml = config_yaml_;
  if (scheduler_) info.scheduler = scheduler_->state();
  if (scaler_->enabled()) info.grad_scaler = scaler_->state();
  if (!epoch_finished_ && batch_in_epoch_ > 0) {
    // NOTE: a ddp checkpoint written by a callback inside an epoch carries no partial
    // metrics, because rank 0 has only its own share. After resuming from one, that
    // epoch's train/ means cover the batches after the resume alone.
    info.epoch_metrics = accelerator_.world_size() == 1 ? logger_.epoch_state("train") : ddp_epoch_metrics_;
  }
  for (const auto& callback : callbacks_) info.callbacks.push_back(callback->state());
  info.data = data_.state();
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    info.rng_cpu = generator.get_state();
  }
  save_checkpoint(path, *model_, optimizer_.get(), info);
  last_checkpoint_ = path;
  spdlog::debug("saved checkpoint {} (epoch={} batch={} step={})", path, info.epoch, info.batch_in_epoch,
                info.global_step);
}

void Trainer::resume_from(const FitOptions& options) {
  // Compare configs before loading tensors: a changed model would fail to load with a
  // less helpful message.
  auto check_config = [&](const CheckpointInfo& saved) {
    check_model_class(saved, options.ckpt_path, model_class_);
    std::vector<std::string> critical;
    std::vector<std::string> other;
    for (const std::string& key : config::changed_keys(config::parse_yaml(saved.config_yaml, options.ckpt_path, false),
                                                       config::parse_yaml(config_yaml_, "config", false))) {
      (changes_model_or_data(key) ? critical : other).push_back(key);
    }
    auto join = [](const std::vector<std::string>& keys) {
      std::string text;
      for (const std::string& key : keys) text += (text.empty() ? "" : ", ") + key;
      return text;
    };
    if (!critical.empty() && !options.ignore_config_changes) {
      throw CheckpointError("resuming from '" + options.ckpt_path + "' with a different model or data config (" +
                            join(critical) + "); use the checkpoint's config, or pass --ignore_config_changes");
    }
    critical.insert(critical.end(), other.begin(), other.end());
    if (!critical.empty()) spdlog::warn("resuming with config changes: {}", join(critical));
  };
  const CheckpointInfo info = load_checkpoint(options.ckpt_path, *model_, optimizer_.get(), check_config);
  accelerator_.prepare(*model_);

  epoch_ = info.epoch;
  batch_in_epoch_ = info.batch_in_epoch;
  global_step_ = info.global_step;
  if (scheduler_ && !info.scheduler.empty()) {
    scheduler_->load_state(info.scheduler);
  } else if (scheduler_ || !info.scheduler.empty()) {
    spdlog::warn("the checkpoint and the config disagree on lr_scheduler; its state was not restored");
  }
  if (scaler_->enabled() && !info.grad_scaler.empty()) scaler_->load_state(info.grad_scaler);
  // The saved values are totals over every rank, so only one rank takes them.
  if (accelerator_.is_global_zero()) logger_.load_epoch_state(info.epoch_metrics);
  if (info.callbacks.size() == callbacks_.size()) {
    for (size_t i = 0; i < callbacks_.size(); ++i) callbacks_[i]->load_state(info.callbacks[i]);
  } else {
    spdlog::warn("the checkpoint has state for {} callbacks but the config lists {}; callback state was not restored",
                 info.callbacks.size(), callbacks_.size());
  }
  if (info.rng_cpu.defined()) {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(info.rng_cpu);
  }
  spdlog::info("resumed from {} at epoch={} batch={} step={}", options.ckpt_path, epoch_, batch_in_epoch_,
               global_step_);
}

}  // namespace trainer
