#include "config/settings.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/errors.h"

namespace trainer::config {
namespace {

/// Parses a whole string as a base-10 integer, ignoring spaces around it.
bool parse_whole_int(std::string text, int64_t& out) {
  const size_t first = text.find_first_not_of(' ');
  if (first == std::string::npos) return false;
  text = text.substr(first, text.find_last_not_of(' ') - first + 1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::optional<DeviceRequest> try_parse_devices(const std::string& devices, std::string& problem) {
  DeviceRequest request;
  if (devices == "auto") return request;
  const std::string invalid = "invalid value '" + devices + "'; give 'auto', a positive number of devices such as 2, "
                              "or a list of device ids such as [0, 1] (0,1 on the command line)";
  if (devices.find(',') == std::string::npos) {
    if (parse_whole_int(devices, request.count) && request.count >= 1) return request;
    problem = invalid;
    return std::nullopt;
  }

  // A list of ids; a trailing comma ("1,") is allowed so that a single id can be written.
  const std::string list = devices.back() == ',' ? devices.substr(0, devices.size() - 1) : devices;
  for (size_t begin = 0; begin <= list.size();) {
    const size_t comma = std::min(list.find(',', begin), list.size());
    int64_t id = 0;
    if (!parse_whole_int(list.substr(begin, comma - begin), id) || id < 0) {
      problem = invalid;
      return std::nullopt;
    }
    if (std::find(request.ids.begin(), request.ids.end(), id) != request.ids.end()) {
      problem = "device id " + std::to_string(id) + " appears twice in '" + devices + "'; list each device once";
      return std::nullopt;
    }
    request.ids.push_back(id);
    begin = comma + 1;
  }
  request.count = static_cast<int64_t>(request.ids.size());
  return request;
}

DeviceRequest parse_devices(const std::string& devices) {
  std::string problem;
  std::optional<DeviceRequest> request = try_parse_devices(devices, problem);
  if (!request) throw UsageError("trainer.devices: " + problem);
  return *request;
}

std::string device_ids_text(const DeviceRequest& request) {
  std::string text;
  for (const int64_t id : request.ids) text += (text.empty() ? "" : ",") + std::to_string(id);
  return text;
}

int64_t BatchLimit::resolve(int64_t available) const {
  if (!is_fraction) return std::min<int64_t>(available, static_cast<int64_t>(value));
  return static_cast<int64_t>(std::floor(value * static_cast<double>(available)));
}

const char* component_kind_name(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::model: return "model";
    case ComponentKind::data: return "data";
    case ComponentKind::optimizer: return "optimizer";
    case ComponentKind::lr_scheduler: return "lr_scheduler";
    case ComponentKind::callback: return "callback";
    case ComponentKind::logger: return "logger";
  }
  return "component";
}

void TrainerSettings::visit(FieldVisitor& v) {
  v.field("max_epochs", max_epochs, {"Stop after this many epochs; -1 for no limit.", {}, -1});
  v.field("max_steps", max_steps, {"Stop after this many optimizer steps; -1 for no limit.", {}, -1});
  v.field("max_time", max_time,
          {"Stop after this wall time, as \"DD:HH:MM:SS\" or seconds; empty for no limit. Checked after each step."});
  v.field("limit_train_batches", limit_train_batches,
          {"Train batches per epoch: an int counts batches, a float is a fraction of the epoch.", {}, 0});
  v.field("limit_val_batches", limit_val_batches,
          {"Validation batches per check: an int counts batches, a float is a fraction; 0 disables validation.", {}, 0});
  v.field("limit_test_batches", limit_test_batches,
          {"Test batches: an int counts batches, a float is a fraction.", {}, 0});
  v.field("limit_predict_batches", limit_predict_batches,
          {"Predict batches: an int counts batches, a float is a fraction.", {}, 0});
  v.field("val_check_interval", val_check_interval,
          {"When to validate: a float is a fraction of each epoch; an int N validates every N optimizer steps.",
           {}, 0});
  v.field("check_val_every_n_epoch", check_val_every_n_epoch,
          {"With a fractional val_check_interval, validate only in every N-th epoch.", {}, 1});
  v.field("num_sanity_val_steps", num_sanity_val_steps,
          {"Validation batches run before training to catch bugs early; not logged. 0 to skip.", {}, 0});
  v.field("fast_dev_run", fast_dev_run,
          {"true or N: run N batches of training and validation (1 for true) and write nothing lasting."});
  v.field("overfit_batches", overfit_batches,
          {"Train and validate on the same first batches, unshuffled (int count or fraction); 0 is off.", {}, 0});
  v.field("accumulate_grad_batches", accumulate_grad_batches,
          {"Batches whose gradients are summed per optimizer step; a shorter last window is scaled to match.",
           {}, 1});
  v.field("gradient_clip_val", gradient_clip_val, {"Clip gradients at this norm or value; 0 is off.", {}, 0.0});
  v.field("gradient_clip_algorithm", gradient_clip_algorithm,
          {"How to clip: 'norm' scales all gradients to a total L2 norm; 'value' clamps each element.",
           {"norm", "value"}});
  v.field("on_nonfinite_loss", on_nonfinite_loss,
          {"On a NaN or infinite training loss: 'raise' stops with an error, 'skip' skips that step.",
           {"raise", "skip"}});
  v.field("enable_checkpointing", enable_checkpointing,
          {"Write checkpoints; without a model_checkpoint callback, checkpoints/last.ckpt after every epoch."});
  v.component_list("callbacks", callbacks, ComponentKind::callback,
                   {"Callbacks, each a class_path with init_args: model_checkpoint, early_stopping, lr_monitor."});
}

void AcceleratorSettings::visit(FieldVisitor& v) {
  v.field("accelerator", accelerator,
          {"Device type; 'auto' picks CUDA when LibTorch sees a GPU, else the CPU.", {"auto", "cpu", "cuda", "gpu"}});
  FieldDoc devices_doc{
      "Devices (processes) per node: 'auto' for 1, a count, or a list of CUDA device ids such as [0, 1] "
      "(0,1 on the command line). More than 1 needs strategy 'ddp'; on the CPU each process is one device."};
  devices_doc.list_as_text = true;
  v.field("devices", devices, devices_doc);
  v.field("strategy", strategy,
          {"'auto' trains in one process; 'ddp' runs one process per device and averages gradients with c10d "
           "(Gloo on the CPU, NCCL on CUDA devices). Without RANK in the environment, fit starts the devices x 1 "
           "processes itself.",
           {"auto", "ddp"}});
  v.field("num_nodes", num_nodes,
          {"Machines in a ddp run; each runs devices processes, started by torchrun or SLURM when above 1.", {}, 1});
  v.field("process_group_timeout", process_group_timeout,
          {"Seconds a ddp rendezvous or collective waits for the other processes before failing.", {}, 1});
  v.field("bucket_cap_mb", bucket_cap_mb,
          {"Megabytes of gradients per ddp all-reduce. A bucket starts as soon as backward has produced all "
           "its gradients, so smaller buckets overlap more with backward but cost more calls.",
           {}, 0.0});
  v.field("precision", precision,
          {"Numeric precision of training: '32' (or '32-true') and '64' (or '64-true') keep every tensor in float32 "
           "or float64; 'bf16-mixed' runs the forward pass under bfloat16 autocast; '16-mixed' runs it under "
           "float16 autocast with dynamic loss scaling (CUDA only); 'bf16-true' keeps parameters and inputs in "
           "bfloat16.",
           {"32", "32-true", "64", "64-true", "bf16-mixed", "16-mixed", "bf16-true"}});
  v.field("num_threads", num_threads,
          {"CPU threads for LibTorch's intra-op pool; 0 uses every core.", {}, 0});
  v.field("deterministic", deterministic,
          {"Use deterministic algorithms only, so that reruns with one seed match."});
}

void LoggerSettings::visit(FieldVisitor& v) {
  v.field("default_root_dir", default_root_dir,
          {"Folder that holds run directories <default_root_dir>/<run_name>/version_<N>.", {}, {}, {}, true});
  v.field("run_name", run_name, {"Name of the run directory group under default_root_dir."});
  v.field("version", version,
          {"Run directory version_<version>; empty picks the next free number. An existing one is an error."});
  v.field("log_every_n_steps", log_every_n_steps,
          {"Write step metrics and, when stderr is not a terminal, a progress line every N optimizer steps.",
           {}, 1});
  v.component_list("logger", loggers, ComponentKind::logger,
                   {"Metric files in the run directory, each a class_path with init_args: csv (metrics.csv), "
                    "tensorboard (event files), jsonl (metrics.jsonl); false or [] for none."});
}

void ExperimentSettings::visit(FieldVisitor& v) {
  v.field("seed_everything", seed_everything,
          {"Seed of every random generator: weights, data split and shuffling.", {}, 0});
  v.section("trainer", {"Loop, device, precision and logging."}, [this](FieldVisitor& section) {
    trainer.visit(section);
    accelerator.visit(section);
    logger.visit(section);
  });
  v.component("model", model, ComponentKind::model, {"The network to train."});
  v.component("data", data, ComponentKind::data, {"The dataset and its loaders."});
  v.component("optimizer", optimizer, ComponentKind::optimizer, {"The optimizer and its arguments."});
  FieldDoc scheduler_doc{"Learning-rate schedule; omit for a constant learning rate."};
  scheduler_doc.optional = true;
  v.component("lr_scheduler", lr_scheduler, ComponentKind::lr_scheduler, scheduler_doc);
}

}  // namespace trainer::config
