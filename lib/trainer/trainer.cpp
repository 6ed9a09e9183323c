#include "trainer/trainer.h"

#include <ATen/Functions.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "accelerator/accelerator_connector.h"
#include "core/errors.h"
#include "data/data_connector.h"
#include "logging/logger_connector.h"
#include "models/model.h"
#include "optim/optimizers.h"
#include "trainer/checkpoint.h"

namespace trainer {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Trainer::Trainer(const config::TrainerSettings& settings, const config::ModelSettings& model,
                 const config::OptimizerSettings& optimizer, accelerator::AcceleratorConnector& accelerator,
                 logging::LoggerConnector& logger, data::DataConnector& data)
    : settings_(settings), model_class_(model.class_path), accelerator_(accelerator), logger_(logger), data_(data) {
  const models::ModelRegistry::Entry* model_entry = models::model_registry().find(model.class_path);
  const optim::OptimizerRegistry::Entry* optimizer_entry = optim::optimizer_registry().find(optimizer.class_path);
  if (model_entry == nullptr || !model.args) throw UsageError("unknown model '" + model.class_path + "'");
  if (optimizer_entry == nullptr || !optimizer.args) {
    throw UsageError("unknown optimizer '" + optimizer.class_path + "'");
  }

  model_ = model_entry->build(*model.args, data_.spec());
  model_->to(accelerator_.device(), accelerator_.dtype());
  optimizer_ = optimizer_entry->build(*optimizer.args, model_->parameters());
}

Trainer::~Trainer() = default;

data::Batch Trainer::to_device(const data::Batch& batch) const {
  const c10::Device device = accelerator_.device();
  const at::ScalarType dtype = accelerator_.dtype();
  // Floating tensors take the precision's dtype; integer ones (labels, token ids) keep theirs.
  auto move = [&](const at::Tensor& tensor) {
    return tensor.is_floating_point() ? tensor.to(device, dtype) : tensor.to(device);
  };
  return {move(batch.inputs), move(batch.targets)};
}

bool Trainer::reached_max_steps() const { return settings_.max_steps >= 0 && global_step_ >= settings_.max_steps; }

logging::Metrics Trainer::fit(const std::string& config_yaml) {
  data::Loader& train_loader = data_.train_loader();
  const int64_t num_batches = settings_.limit_train_batches.resolve(train_loader.num_batches());
  if (num_batches == 0) {
    throw UsageError("trainer.limit_train_batches leaves no training batches (the training set has " +
                     std::to_string(train_loader.num_batches()) + "); raise it");
  }

  logger_.begin_run(config_yaml);
  const std::string checkpoint_dir = (std::filesystem::path(logger_.run_dir()) / "checkpoints").string();
  std::filesystem::create_directories(checkpoint_dir);
  const int64_t parameters = models::count_parameters(*model_);
  spdlog::info("fit model={} parameters={} ({:.2f} MB) {} train_samples={} val_samples={} batches_per_epoch={}",
               model_class_, parameters, static_cast<double>(parameters) * 4 / 1e6, accelerator_.describe(),
               train_loader.num_samples(), data_.val_loader().num_samples(), num_batches);

  logging::Metrics last_metrics;
  const auto fit_start = Clock::now();
  for (int64_t epoch = 0; (settings_.max_epochs < 0 || epoch < settings_.max_epochs) && !reached_max_steps();
       ++epoch) {
    const auto epoch_start = Clock::now();
    const int64_t samples = train_epoch(epoch, num_batches);
    const double train_seconds = seconds_since(epoch_start);
    logging::Metrics metrics = logger_.reduce();

    const bool validate_now = (epoch + 1) % settings_.check_val_every_n_epoch == 0;
    if (validate_now && data_.val_loader().num_samples() > 0 &&
        settings_.limit_val_batches.resolve(data_.val_loader().num_batches()) > 0) {
      const logging::Metrics val = evaluate("val", data_.val_loader(), settings_.limit_val_batches);
      metrics.insert(metrics.end(), val.begin(), val.end());
    }
    logger_.log_epoch(epoch, global_step_, metrics,
                      fmt::format("epoch={} step={} time={:.1f}s train_samples/s={:.0f}", epoch, global_step_,
                                  seconds_since(epoch_start), static_cast<double>(samples) / train_seconds));

    if (settings_.enable_checkpointing) {
      last_checkpoint_ = (std::filesystem::path(checkpoint_dir) / "last.ckpt").string();
      save_checkpoint(last_checkpoint_, *model_, optimizer_.get(),
                      {epoch + 1, global_step_, model_class_, config_yaml});
    }
    last_metrics = metrics;
  }
  spdlog::info("fit done steps={} time={:.1f}s checkpoint={}", global_step_, seconds_since(fit_start),
               last_checkpoint_);
  return last_metrics;
}

int64_t Trainer::train_epoch(int64_t epoch, int64_t num_batches) {
  data::Loader& loader = data_.train_loader();
  loader.set_epoch(epoch);
  model_->train();

  auto window_start = Clock::now();
  int64_t window_samples = 0;
  int64_t epoch_samples = 0;
  for (int64_t index = 0; index < num_batches && !reached_max_steps(); ++index) {
    const data::Batch batch = to_device(loader.batch(index));

    optimizer_->zero_grad();
    models::StepOutput output;
    {
      auto autocast = accelerator_.autocast();
      output = model_->step(batch, /*with_metrics=*/false);
    }
    // NOTE: reading the loss every step synchronises a CUDA device; on CPU it is free.
    const double loss_value = output.loss.item<double>();
    if (!std::isfinite(loss_value)) {
      throw DivergedError("train/loss is " + std::to_string(loss_value) + " at epoch " + std::to_string(epoch) +
                          " step " + std::to_string(global_step_) + "; the last good checkpoint is '" +
                          (last_checkpoint_.empty() ? std::string("none yet") : last_checkpoint_) +
                          "'; lower the learning rate or check the data");
    }
    output.loss.backward();
    optimizer_->step();
    ++global_step_;

    const int64_t batch_size = batch.size();
    logger_.accumulate("train/loss", output.loss.detach().mul(static_cast<double>(output.count)), output.count);
    window_samples += batch_size;
    epoch_samples += batch_size;
    if (logger_.step_due(global_step_)) {
      const double samples_per_second = static_cast<double>(window_samples) / seconds_since(window_start);
      logger_.log_step(epoch, global_step_, {{"train/loss_step", loss_value}},
                       fmt::format("epoch={} batch={}/{} step={} samples/s={:.0f}", epoch, index + 1, num_batches,
                                   global_step_, samples_per_second));
      window_start = Clock::now();
      window_samples = 0;
    }
  }
  return epoch_samples;
}

logging::Metrics Trainer::evaluate(const std::string& stage, data::Loader& loader, const config::BatchLimit& limit) {
  const int64_t num_batches = limit.resolve(loader.num_batches());
  const bool was_training = model_->is_training();
  model_->eval();
  torch::NoGradGuard no_grad;

  for (int64_t index = 0; index < num_batches; ++index) {
    const data::Batch batch = to_device(loader.batch(index));
    models::StepOutput output;
    {
      auto autocast = accelerator_.autocast();
      output = model_->step(batch, /*with_metrics=*/true);
    }
    for (const auto& [name, sum] : output.metric_sums) logger_.accumulate(stage + "/" + name, sum, output.count);
  }
  model_->train(was_training);
  logging::Metrics metrics = logger_.reduce();
  models::add_derived_metrics(model_->task(), stage, metrics);
  return metrics;
}

logging::Metrics Trainer::validate(const std::string& ckpt_path, const std::string& config_yaml) {
  return evaluate_checkpoint("val", ckpt_path, config_yaml);
}

logging::Metrics Trainer::test(const std::string& ckpt_path, const std::string& config_yaml) {
  return evaluate_checkpoint("test", ckpt_path, config_yaml);
}

logging::Metrics Trainer::evaluate_checkpoint(const std::string& stage, const std::string& ckpt_path,
                                              const std::string& config_yaml) {
  const CheckpointInfo info = load_checkpoint(ckpt_path, *model_, nullptr);
  model_->to(accelerator_.device(), accelerator_.dtype());  // loading restores the dtype the file was saved in
  if (info.model_class != model_class_) {
    throw CheckpointError("checkpoint '" + ckpt_path + "' holds a '" + info.model_class +
                          "' model but the config asks for '" + model_class_ + "'");
  }
  data::Loader& loader = stage == "test" ? data_.test_loader() : data_.val_loader();
  const config::BatchLimit& limit = stage == "test" ? settings_.limit_test_batches : settings_.limit_val_batches;
  if (loader.num_samples() == 0) {
    throw UsageError("the " + stage + " set is empty; " +
                     (stage == "val" ? "set data.init_args.val_size above 0" : "this dataset has no test split"));
  }

  logger_.begin_run(config_yaml);
  spdlog::info("{} checkpoint={} epoch={} step={} {} samples={}", stage, ckpt_path, info.epoch, info.global_step,
               accelerator_.describe(), loader.num_samples());
  const logging::Metrics metrics = evaluate(stage, loader, limit);
  logger_.log_epoch(info.epoch, info.global_step, metrics, stage);
  return metrics;
}

}  // namespace trainer
