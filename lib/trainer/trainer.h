#pragma once
/// The Trainer: owns the model, the optimizer and the loop; asks the three connectors
/// for devices, data and logging, and never hands itself to them.

#include <memory>
#include <string>

#include "config/settings.h"
#include "logging/metrics.h"

namespace torch::optim {
class Optimizer;
}

namespace trainer {
namespace accelerator {
class AcceleratorConnector;
}
namespace data {
class DataConnector;
class Loader;
struct Batch;
}  // namespace data
namespace logging {
class LoggerConnector;
}
namespace models {
class Model;
}

class Trainer {
 public:
  /// Builds the model (sized from the data) and the optimizer on the accelerator's
  /// device. Throws UsageError when the settings cannot work together.
  Trainer(const config::TrainerSettings& settings, const config::ModelSettings& model,
          const config::OptimizerSettings& optimizer, accelerator::AcceleratorConnector& accelerator,
          logging::LoggerConnector& logger, data::DataConnector& data);
  ~Trainer();

  /// Trains for max_epochs / max_steps, validating as configured, and writes
  /// checkpoints/last.ckpt at the end of every epoch. Returns the last epoch's metrics.
  logging::Metrics fit(const std::string& config_yaml);

  /// Loads the model from `ckpt_path` and evaluates it on the validation set.
  logging::Metrics validate(const std::string& ckpt_path, const std::string& config_yaml);

  /// Loads the model from `ckpt_path` and evaluates it on the test set.
  logging::Metrics test(const std::string& ckpt_path, const std::string& config_yaml);

  /// Path of the newest checkpoint fit() wrote; empty before.
  const std::string& last_checkpoint() const { return last_checkpoint_; }

 private:
  logging::Metrics evaluate_checkpoint(const std::string& stage, const std::string& ckpt_path,
                                       const std::string& config_yaml);
  /// Runs `loader` (up to `limit` batches) in eval mode; returns `<stage>/loss` and `<stage>/acc`.
  logging::Metrics evaluate(const std::string& stage, data::Loader& loader, const config::BatchLimit& limit);
  /// Trains one epoch of `num_batches` batches; returns the number of samples seen.
  int64_t train_epoch(int64_t epoch, int64_t num_batches);
  bool reached_max_steps() const;
  /// Moves a batch to the accelerator's device and dtype.
  data::Batch to_device(const data::Batch& batch) const;

  config::TrainerSettings settings_;
  std::string model_class_;
  accelerator::AcceleratorConnector& accelerator_;
  logging::LoggerConnector& logger_;
  data::DataConnector& data_;
  std::shared_ptr<models::Model> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;

  int64_t global_step_ = 0;
  std::string last_checkpoint_;
};

}  // namespace trainer
