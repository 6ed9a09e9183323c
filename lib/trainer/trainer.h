#pragma once
/// The Trainer: owns the model, the optimizer, the scheduler, the callbacks and the loop;
/// uses the three connectors for devices, data and logging, and never hands itself to them.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.h"
#include "logging/metrics.h"
#include "trainer/callbacks/callback.h"

namespace torch::optim {
class Optimizer;
}

namespace trainer {
namespace accelerator {
class AcceleratorConnector;
class GradientReducer;
class GradScaler;
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
struct StepOutput;
}
namespace optim {
class LrScheduler;
}
struct CheckpointInfo;

/// Options of `fit`: a fresh start, or a resume from a checkpoint.
struct FitOptions {
  std::string ckpt_path;               ///< resolved checkpoint to resume from; empty starts fresh
  bool ignore_config_changes = false;  ///< resume even when the model or data config changed
};

/// File format of the predictions `predict` writes.
enum class PredictFormat { csv, npy };

class Trainer {
 public:
  /// Builds the model (sized from the data), the optimizer, the scheduler and the
  /// callbacks. Throws UsageError when the settings cannot work together.
  Trainer(const config::TrainerSettings& settings, const config::ModelSettings& model,
          const config::OptimizerSettings& optimizer, const config::SchedulerSettings& scheduler,
          accelerator::AcceleratorConnector& accelerator, logging::LoggerConnector& logger,
          data::DataConnector& data);
  ~Trainer();

  /// Trains until max_epochs, max_steps, max_time or a callback ends it, validating as
  /// configured. Returns the newest value of every metric logged.
  logging::Metrics fit(const std::string& config_yaml, const FitOptions& options = {});

  /// Loads the model from `ckpt_path` and evaluates it on the validation set.
  logging::Metrics validate(const std::string& ckpt_path, const std::string& config_yaml);

  /// Loads the model from `ckpt_path` and evaluates it on the test set.
  logging::Metrics test(const std::string& ckpt_path, const std::string& config_yaml);

  /// Loads the model from `ckpt_path`, runs it on the test set and writes predictions
  /// to the run directory; returns the file's path.
  std::string predict(const std::string& ckpt_path, const std::string& config_yaml, PredictFormat format);

  /// Estimated size in bytes of one checkpoint: the parameters plus up to two optimizer
  /// moments each, and 1 MiB for the rest. The free-space check before fit uses it.
  uint64_t estimated_checkpoint_bytes() const;

  /// Path of the newest checkpoint fit() wrote; empty before.
  const std::string& last_checkpoint() const { return last_checkpoint_; }
  /// Newest value of every metric logged in fit.
  logging::Metrics newest_metrics() const;
  /// The best checkpoint a model_checkpoint callback kept, if any.
  std::optional<callbacks::BestCheckpoint> best_checkpoint() const;
  /// Best value of every train/, val/ and test/ metric logged in fit: the highest for
  /// accuracies (names containing "acc"), the lowest for everything else.
  const logging::Metrics& best_metrics() const { return best_metrics_; }

 private:
  class Context;
  struct Plan;

  Plan plan_fit() const;
  void train_epoch(const Plan& plan, Context& context);
  /// One optimizer step over the accumulation window [begin, end) of the epoch's batches;
  /// adds the window's mean loss to `window_loss` and its samples to `samples`.
  /// Returns false when the step was skipped for a non-finite loss. A step whose
  /// scaled gradients overflowed (16-mixed) returns true: it counts, without an update.
  bool train_window(data::Loader& loader, int64_t begin, int64_t end, double& window_loss, int64_t& samples);
  bool validation_due(const Plan& plan, int64_t step_in_epoch) const;
  void run_validation(const Plan& plan, Context& context);
  void check_stop_conditions();
  /// The largest `value` of any rank in a ddp run; `value` itself in one process.
  int64_t max_over_ranks(int64_t value) const;
  /// In a ddp run, overwrites the parameters and buffers with rank 0's.
  void broadcast_model_state();
  /// Combines every rank's stop request and signal (max) in a ddp run, so all ranks stop
  /// after the same optimizer step with the same exit code. Does nothing in one process.
  void synchronize_stop();
  /// Turns a received SIGTERM, SIGINT or requeue signal into a stop request; returns
  /// true once a stop is requested for any reason. It is the one place a stop signal
  /// enters the loop.
  bool poll_stop_signal();
  /// Runs the model's step on one batch, turning LibTorch errors into a UsageError
  /// (shapes) or a DataError (labels) that names the model, the batch and its shapes.
  models::StepOutput run_step(const data::Batch& batch, bool with_metrics, const std::string& stage, int64_t index);
  void record(const logging::Metrics& metrics);

  /// Runs `loader` (up to `num_batches` batches) in eval mode; returns `<stage>/...` metrics.
  logging::Metrics evaluate(const std::string& stage, data::Loader& loader, int64_t num_batches);
  logging::Metrics evaluate_checkpoint(const std::string& stage, const std::string& ckpt_path,
                                       const std::string& config_yaml);
  /// Loads model weights from a checkpoint for evaluation; returns its info.
  CheckpointInfo load_for_evaluation(const std::string& ckpt_path);
  data::Batch to_device(const data::Batch& batch) const;

  /// Writes a resumable checkpoint of the current loop position.
  void save_state(const std::string& path);
  void resume_from(const FitOptions& options);

  config::TrainerSettings settings_;
  std::string model_class_;
  accelerator::AcceleratorConnector& accelerator_;
  logging::LoggerConnector& logger_;
  data::DataConnector& data_;
  std::shared_ptr<models::Model> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LrScheduler> scheduler_;
  std::vector<std::unique_ptr<callbacks::Callback>> callbacks_;
  /// Averages gradients over the ranks of a ddp run; null in one process.
  std::unique_ptr<accelerator::GradientReducer> gradient_reducer_;
  /// Loss scaling of '16-mixed'; a disabled scaler, which changes nothing, otherwise.
  std::unique_ptr<accelerator::GradScaler> scaler_;
  bool has_checkpoint_callback_ = false;

  // Loop state; a checkpoint stores it, so a resumed fit continues where this one stopped.
  int64_t epoch_ = 0;
  int64_t batch_in_epoch_ = 0;
  int64_t global_step_ = 0;
  bool epoch_finished_ = false;  ///< epoch-end work is done: saves resume at the next epoch
  bool stop_requested_ = false;
  int stop_signal_ = 0;   ///< the signal that stopped fit; 0 when none did
  bool fitting_ = false;  ///< inside fit(): evaluation runs to its end before a signal stops the loop
  std::string stop_reason_;
  callbacks::MetricHistory history_;
  /// A ddp run's partial-epoch train/ metrics, totalled over the ranks when fit stops
  /// inside an epoch, for the checkpoint saved then.
  std::map<std::string, double> ddp_epoch_metrics_;
  logging::Metrics best_metrics_;
  std::string config_yaml_;
  std::string checkpoint_dir_;
  std::string last_checkpoint_;
  std::chrono::steady_clock::time_point fit_start_;
  int64_t fit_samples_ = 0;  ///< training samples this fit ran, for the final throughput
  double max_time_seconds_ = -1;
  /// Test hook: this rank throws after optimizer step fail_at_step_ (see TRAINER_TEST_FAIL_RANK).
  int64_t fail_at_step_ = -1;
};

}  // namespace trainer
