#pragma once
/// Plain settings structs filled from YAML. Defaults live in the member initialisers;
/// each struct's visit() lists its keys once for reading, writing and the schema.
/// No LibTorch types here: settings are cheap to copy, print and compare.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/fields.h"

namespace trainer::config {

/// The loop: how long to train and on how much data. YAML keys under `trainer:`.
struct TrainerSettings {
  int64_t max_epochs = 10;
  int64_t max_steps = -1;
  std::string max_time;  ///< "DD:HH:MM:SS" or seconds; empty for no limit
  BatchLimit limit_train_batches;
  BatchLimit limit_val_batches;
  BatchLimit limit_test_batches;
  BatchLimit limit_predict_batches;
  BatchLimit val_check_interval;
  int64_t check_val_every_n_epoch = 1;
  int64_t num_sanity_val_steps = 2;
  CountOrFlag fast_dev_run;
  BatchLimit overfit_batches{0.0, true};
  int64_t accumulate_grad_batches = 1;
  double gradient_clip_val = 0.0;
  std::string gradient_clip_algorithm = "norm";
  std::string on_nonfinite_loss = "raise";
  bool enable_checkpointing = true;
  std::vector<Component> callbacks;

  void visit(FieldVisitor& v);
};

/// Device, precision and threads. YAML keys under `trainer:`, as in Lightning.
struct AcceleratorSettings {
  std::string accelerator = "auto";
  /// "auto", a count ("2"), or device ids ("0,1"; "1," is the one id 1). See parse_devices.
  std::string devices = "auto";
  std::string strategy = "auto";  ///< "auto" (one process) or "ddp"
  int64_t num_nodes = 1;
  int64_t process_group_timeout = 60;  ///< seconds a collective or the rendezvous may wait
  double bucket_cap_mb = 25.0;         ///< ddp gradient bucket size, as torch DDP's bucket_cap_mb
  std::string precision = "32";
  int64_t num_threads = 0;
  bool deterministic = false;

  void visit(FieldVisitor& v);
};

/// `trainer.devices` as a number of devices or as a list of device ids.
struct DeviceRequest {
  int64_t count = 1;          ///< devices (processes) per node: ids.size() when ids are given
  std::vector<int64_t> ids;   ///< device ids in the order of the local ranks; empty unless listed
};

/// Parses `trainer.devices`: "auto" (one device), a positive count such as "2", or
/// comma-separated device ids such as "0,1" (a trailing comma, as in "1,", marks a
/// single id). Returns nullopt for an invalid value and sets `problem` to a message
/// that names the value and the accepted forms, without the key.
std::optional<DeviceRequest> try_parse_devices(const std::string& devices, std::string& problem);

/// try_parse_devices that throws UsageError("trainer.devices: <problem>") for an invalid value.
DeviceRequest parse_devices(const std::string& devices);
/// Returns the listed ids of `request` as "0,1", for messages (a one-id list is stored as "0,").
std::string device_ids_text(const DeviceRequest& request);

/// Console and metric files. YAML keys under `trainer:`.
struct LoggerSettings {
  std::string default_root_dir = "runs";
  std::string run_name = "default";
  std::string version;  ///< run directory version_<version>; empty picks the next free number
  int64_t log_every_n_steps = 50;
  /// `trainer.logger`; a component without args (the default) uses its registered defaults.
  std::vector<Component> loggers{Component{"csv", nullptr}};
  /// Resolved, not read from YAML: false for fast_dev_run, which writes nothing lasting.
  bool write_files = true;

  void visit(FieldVisitor& v);
};

struct ModelSettings : Component {};

struct DataSettings : Component {
  DataSettings() { class_path = "fashion_mnist"; }
};

struct OptimizerSettings : Component {
  OptimizerSettings() { class_path = "adam"; }
};

/// Optional: an empty class_path means a constant learning rate.
struct SchedulerSettings : Component {};

/// A whole experiment config: what one `--config` file (or several merged) describes.
struct ExperimentSettings {
  int64_t seed_everything = 0;
  TrainerSettings trainer;
  AcceleratorSettings accelerator;
  LoggerSettings logger;
  ModelSettings model;
  DataSettings data;
  OptimizerSettings optimizer;
  SchedulerSettings lr_scheduler;

  void visit(FieldVisitor& v);
};

}  // namespace trainer::config
