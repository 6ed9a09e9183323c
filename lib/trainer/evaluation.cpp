// The Trainer's evaluation paths: validation and test metrics, and predictions.

#include <ATen/Functions.h>
#include <torch/utils.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "accelerator/accelerator_connector.h"
#include "accelerator/distributed.h"
#include "core/errors.h"
#include "core/signals.h"
#include "data/data_connector.h"
#include "logging/logger_connector.h"
#include "models/model.h"
#include "trainer/checkpoint.h"
#include "trainer/predictions.h"
#include "trainer/trainer.h"

namespace trainer {

data::Batch Trainer::to_device(const data::Batch& batch) const {
  const c10::Device device = accelerator_.device();
  const at::ScalarType dtype = accelerator_.dtype();
  // Floating tensors take the precision's dtype; integer ones (labels, token ids) keep theirs.
  auto move = [&](const at::Tensor& tensor) {
    return tensor.is_floating_point() ? tensor.to(device, dtype) : tensor.to(device);
  };
  return {move(batch.inputs), move(batch.targets)};
}

logging::Metrics Trainer::evaluate(const std::string& stage, data::Loader& loader, int64_t num_batches) {
  const bool was_training = model_->is_training();
  model_->eval();
  torch::NoGradGuard no_grad;

  for (int64_t index = 0; index < num_batches; ++index) {
    // Outside fit (validate, test) a stop signal abandons the evaluation: its metrics
    // would be partial, so nothing is written.
    if (!fitting_ && received_stop_signal() != 0) {
      const int signal = received_stop_signal();
      throw InterruptedError(stop_exit_code(signal), signal_name(signal) + " received during " + stage +
                                                         " batch " + std::to_string(index) + "; no results written");
    }
    const data::Batch batch = to_device(loader.batch(index));
    const models::StepOutput output = run_step(batch, /*with_metrics=*/true, stage, index);
    for (const auto& [name, sum] : output.metric_sums) logger_.accumulate(stage + "/" + name, sum, output.count);
    logger_.show_progress(stage, epoch_, index + 1, num_batches);
  }
  model_->train(was_training);
  logging::Metrics metrics = logger_.reduce(stage);
  models::add_derived_metrics(model_->task(), stage, metrics);
  return metrics;
}

CheckpointInfo Trainer::load_for_evaluation(const std::string& ckpt_path) {
  // The class is checked before tensors load: another model's tensors would fail with a less clear message.
  CheckpointInfo info = load_checkpoint(ckpt_path, *model_, nullptr, [&](const CheckpointInfo& saved) {
    check_model_class(saved, ckpt_path, model_class_);
  });
  accelerator_.prepare(*model_);  // loading restores the dtype the file was saved in
  return info;
}

logging::Metrics Trainer::validate(const std::string& ckpt_path, const std::string& config_yaml) {
  return evaluate_checkpoint("val", ckpt_path, config_yaml);
}

logging::Metrics Trainer::test(const std::string& ckpt_path, const std::string& config_yaml) {
  return evaluate_checkpoint("test", ckpt_path, config_yaml);
}

logging::Metrics Trainer::evaluate_checkpoint(const std::string& stage, const std::string& ckpt_path,
                                              const std::string& config_yaml) {
  const CheckpointInfo info = load_for_evaluation(ckpt_path);
  data::Loader& loader = stage == "test" ? data_.test_loader() : data_.val_loader();
  const config::BatchLimit& limit = stage == "test" ? settings_.limit_test_batches : settings_.limit_val_batches;
  // A ddp rank may get no sample of a small set, so the set is empty only when every rank's part is.
  if (max_over_ranks(loader.num_samples()) == 0) {
    throw UsageError("the " + stage + " set is empty; " +
                     (stage == "val" ? "set data.init_args.val_size above 0" : "this dataset has no test split"));
  }
  int64_t num_batches = limit.resolve(loader.num_batches());
  if (settings_.fast_dev_run.value > 0) num_batches = std::min(num_batches, settings_.fast_dev_run.value);
  if (max_over_ranks(num_batches) == 0) {
    throw UsageError("trainer.limit_" + stage + "_batches leaves 0 of the " + stage + " set's " +
                     std::to_string(loader.num_batches()) + " batches; raise it");
  }

  logger_.begin_run(config_yaml);
  spdlog::info("{} checkpoint={} epoch={} step={} {} samples={}", stage, ckpt_path, info.epoch, info.global_step,
               accelerator_.describe(), loader.num_samples());
  const logging::Metrics metrics = evaluate(stage, loader, num_batches);
  logger_.log_epoch(info.epoch, info.global_step, metrics, stage);
  logger_.finish_run("finished");
  return metrics;
}

std::string Trainer::predict(const std::string& ckpt_path, const std::string& config_yaml, PredictFormat format) {
  const CheckpointInfo info = load_for_evaluation(ckpt_path);
  data::Loader& loader = data_.test_loader();
  if (max_over_ranks(loader.num_samples()) == 0) {
    throw UsageError("predict runs on the test set, which is empty for this dataset");
  }
  int64_t num_batches = settings_.limit_predict_batches.resolve(loader.num_batches());
  if (settings_.fast_dev_run.value > 0) num_batches = std::min(num_batches, settings_.fast_dev_run.value);
  if (max_over_ranks(num_batches) == 0) {
    throw UsageError("trainer.limit_predict_batches leaves 0 of the test set's " +
                     std::to_string(loader.num_batches()) + " batches; raise it");
  }

  logger_.begin_run(config_yaml);
  spdlog::info("predict checkpoint={} epoch={} step={} {} samples={}", ckpt_path, info.epoch, info.global_step,
               accelerator_.describe(), loader.num_samples());
  model_->eval();
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> outputs;
  std::vector<at::Tensor> targets;
  for (int64_t index = 0; index < num_batches; ++index) {
    const data::Batch batch = to_device(loader.batch(index));
    at::Tensor output;
    {
      auto autocast = accelerator_.autocast();
      output = model_->forward(batch.inputs);
    }
    outputs.push_back(output.to(at::kFloat).cpu());
    targets.push_back(batch.targets.cpu());
  }
  at::Tensor all_outputs = outputs.empty() ? at::Tensor() : at::cat(outputs);
  at::Tensor all_targets = targets.empty() ? at::Tensor() : at::cat(targets);

  if (accelerator::ProcessGroup* group = accelerator_.process_group()) {
    // Evaluation shards are strided (rank r reads samples r, r + W, r + 2W, ...), so the
    // j-th row of rank r is sample r + j * W. Rank 0 puts every rank's rows in sample order.
    const std::vector<at::Tensor> rank_outputs = group->all_gather_rows(all_outputs);
    const std::vector<at::Tensor> rank_targets = group->all_gather_rows(all_targets);
    const int64_t world_size = accelerator_.world_size();
    std::vector<at::Tensor> positions;
    for (int64_t rank = 0; rank < world_size; ++rank) {
      positions.push_back(at::arange(rank_outputs[rank].size(0), at::kLong).mul(world_size).add(rank));
    }
    const at::Tensor order = at::cat(positions).argsort();
    all_outputs = at::cat(rank_outputs).index_select(0, order);
    all_targets = at::cat(rank_targets).index_select(0, order);
    if (!accelerator_.is_global_zero()) return {};
  }

  if (logger_.run_dir().empty()) {
    spdlog::info("predict computed {} rows and wrote none (fast_dev_run)", all_outputs.size(0));
    return {};
  }
  const std::filesystem::path dir(logger_.run_dir());
  std::string path;
  if (format == PredictFormat::csv) {
    path = (dir / "predictions.csv").string();
    write_predictions_csv(path, model_->task(), all_outputs, all_targets);
  } else {
    // Probabilities for classification, raw outputs otherwise.
    const at::Tensor values = model_->task() == Task::classification ? all_outputs.softmax(1) : all_outputs;
    path = (dir / "predictions.npy").string();
    write_npy(path, values);
    write_npy((dir / "targets.npy").string(), all_targets);
  }
  spdlog::info("predict wrote {} rows to {}", all_outputs.size(0), path);
  logger_.finish_run("finished");
  return path;
}

}  // namespace trainer
