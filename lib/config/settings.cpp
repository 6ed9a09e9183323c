#include "config/settings.h"

#include <algorithm>
#include <cmath>

namespace trainer::config {

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
  v.field("devices", devices,
          {"Devices (processes) per node, or 'auto' for 1. More than 1 needs strategy 'ddp'; on the CPU each "
           "process is one device."});
  v.field("strategy", strategy,
          {"'auto' trains in one process; 'ddp' runs one process per device and averages gradients with c10d "
           "(Gloo). Without RANK in the environment, fit starts the devices x 1 processes itself.",
           {"auto", "ddp"}});
  v.field("num_nodes", num_nodes,
          {"Machines in a ddp run; each runs devices processes, started by torchrun or SLURM when above 1.", {}, 1});
  v.field("process_group_timeout", process_group_timeout,
          {"Seconds a ddp rendezvous or collective waits for the other processes before failing.", {}, 1});
  v.field("precision", precision,
          {"Numeric precision of training.", {"32", "32-true", "64", "64-true", "bf16-mixed"}});
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
