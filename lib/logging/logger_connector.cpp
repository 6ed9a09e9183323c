#include "logging/logger_connector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>

#include "config/node.h"
#include "core/atomic_file.h"
#include "core/errors.h"
#include "logging/logger_registry.h"
#include "logging/model_summary.h"

namespace trainer::logging {
namespace fs = std::filesystem;

namespace {

/// Returns the highest N of the `version_N` folders in `group`, or -1.
int64_t last_version(const fs::path& group) {
  int64_t last = -1;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(group, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("version_", 0) != 0) continue;
    try {
      size_t used = 0;
      const int64_t number = std::stoll(name.substr(8), &used);
      if (used == name.size() - 8) last = std::max(last, number);
    } catch (const std::exception&) {
      // not a version folder of ours
    }
  }
  return last;
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void flatten_node(const config::Node& node, const std::string& key,
                  std::vector<std::pair<std::string, std::string>>& out) {
  if (node.is_map()) {
    for (const auto& [name, child] : node.entries) flatten_node(child, key.empty() ? name : key + "." + name, out);
  } else if (node.is_sequence()) {
    for (size_t i = 0; i < node.items.size(); ++i) flatten_node(node.items[i], key + "." + std::to_string(i), out);
  } else {
    out.emplace_back(key, node.is_null() ? "null" : node.text);
  }
}

}  // namespace

LoggerConnector::LoggerConnector(const config::LoggerSettings& settings, std::unique_ptr<Reducer> reducer,
                                 bool interactive)
    : settings_(settings),
      reducer_(reducer ? std::move(reducer) : std::make_unique<IdentityReducer>()),
      progress_(interactive, stderr) {}

LoggerConnector::~LoggerConnector() {
  try {
    finish_run("failed");
  } catch (const std::exception& error) {
    spdlog::warn("could not finish the metric files: {}", error.what());
  }
}

void LoggerConnector::begin_run(const std::string& config_yaml) {
  if (!settings_.write_files) {
    spdlog::info("nothing is written to disk in this run (fast_dev_run)");
    return;
  }
  // Check every logger name before anything is created on disk.
  for (const config::Component& component : settings_.loggers) {
    if (logger_registry().find(component.class_path) == nullptr) {
      throw UsageError("unknown logger '" + component.class_path + "'");
    }
  }
  const fs::path group = fs::path(settings_.default_root_dir) / settings_.run_name;
  std::error_code error;
  fs::create_directories(group, error);
  if (error) {
    throw std::runtime_error("cannot create run folder '" + group.string() + "': " + error.message());
  }
  if (!settings_.version.empty()) {
    const fs::path chosen = group / ("version_" + settings_.version);
    if (::mkdir(chosen.c_str(), 0755) != 0) {
      const int code = errno;
      if (code == EEXIST) {
        throw UsageError("run directory '" + chosen.string() + "' exists; choose another trainer.version or remove it");
      }
      throw std::runtime_error("cannot create run directory '" + chosen.string() + "': " + std::strerror(code));
    }
    run_dir_ = chosen.string();
  }
  // mkdir is atomic: when concurrent runs race for the same version, the loser tries the next.
  for (int64_t version = last_version(group) + 1; run_dir_.empty(); ++version) {
    const fs::path candidate = group / ("version_" + std::to_string(version));
    if (::mkdir(candidate.c_str(), 0755) == 0) {
      run_dir_ = candidate.string();
      break;
    }
    if (errno != EEXIST) {
      throw std::runtime_error("cannot create run directory '" + candidate.string() + "': " + std::strerror(errno));
    }
  }
  write_file_atomic((fs::path(run_dir_) / "config.yaml").string(), config_yaml);
  spdlog::info("run directory: {}", run_dir_);

  const Hyperparams hparams{config_yaml, flatten_yaml(config_yaml)};
  const double now = unix_seconds();
  for (const config::Component& component : settings_.loggers) {
    const LoggerRegistry::Entry* entry = logger_registry().find(component.class_path);
    // The default list is written without arguments; those loggers take their registered defaults.
    const std::unique_ptr<config::Args> defaults = component.args ? nullptr : entry->make_args();
    loggers_.push_back(entry->build(component.args ? *component.args : *defaults, run_dir_));
    loggers_.back()->log_hyperparams(hparams, now);
  }
  finalized_ = false;
  spdlog::debug("loggers: {}", loggers_.size());
}

void LoggerConnector::log(const std::string& name, const at::Tensor& value, const LogOptions& options) {
  if (options.prog_bar) prog_bar_names_.insert(options.on_step && options.on_epoch ? name + "_step" : name);
  if (options.on_step) {
    const std::string step_name = options.on_epoch ? name + "_step" : name;
    const at::Tensor detached = value.detach();
    bool replaced = false;
    for (auto& [pending, tensor] : step_values_) {
      if (pending == step_name) {
        tensor = detached;
        replaced = true;
      }
    }
    if (!replaced) step_values_.emplace_back(step_name, detached);
  }
  if (options.on_epoch) accumulator_.update(name, value, options.batch_size, options.reduce, options.sync_dist);
}

Metrics LoggerConnector::reduce(const std::string& stage) {
  return accumulator_.compute_and_reset(stage + "/", reducer_.get());
}

void LoggerConnector::show_progress(const std::string& stage, int64_t epoch, int64_t batch, int64_t total) {
  if (stage != progress_.stage() || epoch != progress_.epoch() || batch <= progress_batch_) {
    progress_.start(stage, epoch, total, batch - 1);
  }
  progress_batch_ = batch;
  progress_.update(batch, shown_metrics());
}

void LoggerConnector::log_step(int64_t epoch, int64_t global_step, const Metrics& metrics,
                               const std::string& progress) {
  Metrics all = metrics;
  for (const auto& [name, tensor] : step_values_) all.emplace_back(name, tensor.item<double>());
  step_values_.clear();
  write_event(EventKind::step, epoch, global_step, all);
  if (progress_.interactive()) {
    spdlog::debug("{} {}", progress, format_metrics(all));
    return;
  }
  spdlog::info("{} {} {}", progress, progress_.rates(progress_batch_), format_metrics(all));
}

void LoggerConnector::log_metrics(int64_t epoch, int64_t global_step, const Metrics& metrics) {
  write_event(EventKind::step, epoch, global_step, metrics);
  spdlog::debug("epoch={} step={} {}", epoch, global_step, format_metrics(metrics));
}

void LoggerConnector::log_epoch(int64_t epoch, int64_t global_step, const Metrics& metrics,
                                const std::string& prefix) {
  if (metrics.empty()) return;
  write_event(EventKind::epoch, epoch, global_step, metrics);
  progress_.clear();
  spdlog::info("{} {}", prefix, format_metrics(metrics));
}

void LoggerConnector::log_model_summary(const torch::nn::Module& model) {
  progress_.clear();
  for (const std::string& line : format_model_summary(model)) spdlog::info("model summary: {}", line);
}

void LoggerConnector::end_run(const RunSummary& summary) {
  progress_.clear();
  const double samples_per_second =
      summary.seconds > 0 ? static_cast<double>(summary.train_samples) / summary.seconds : 0.0;
  spdlog::info("fit done status={} epoch={} step={} time={:.1f}s train_samples/s={:.0f}{}{}", summary.status,
               summary.epoch, summary.step, summary.seconds, samples_per_second,
               summary.stop_reason.empty() ? "" : " stopped: ", summary.stop_reason);
  for (const std::string& note : summary.notes) {
    if (!note.empty()) spdlog::info("{}", note);
  }
  if (!summary.last_metrics.empty()) spdlog::info("last metrics {}", format_metrics(summary.last_metrics));
  finish_run(summary.status);
}

void LoggerConnector::write_event(EventKind kind, int64_t epoch, int64_t step, const Metrics& metrics) {
  // Internal invariant: TensorBoard and the CSV readers assume steps never go back.
  if (step < last_step_) {
    throw std::logic_error("metrics logged at step " + std::to_string(step) + " after step " +
                           std::to_string(last_step_) + "; logged steps must not decrease");
  }
  last_step_ = step;
  remember(metrics);
  const MetricsEvent event{kind, epoch, step, unix_seconds(), metrics};
  for (const auto& logger : loggers_) logger->log_metrics(event);
}

void LoggerConnector::remember(const Metrics& metrics) {
  for (const auto& [name, value] : metrics) {
    auto it = std::find_if(newest_.begin(), newest_.end(), [&](const auto& item) { return item.first == name; });
    if (it == newest_.end()) {
      newest_.emplace_back(name, value);
    } else {
      it->second = value;
    }
  }
}

Metrics LoggerConnector::shown_metrics() const {
  Metrics shown;
  for (const auto& [name, value] : newest_) {
    if (prog_bar_names_.count(name) != 0) shown.emplace_back(name, value);
  }
  return shown;
}

void LoggerConnector::finish_run(const std::string& status) {
  if (finalized_) return;
  finalized_ = true;
  const double now = unix_seconds();
  for (const auto& logger : loggers_) logger->finalize(status, newest_, now);
}

std::string format_metrics(const Metrics& metrics) {
  std::string text;
  for (const auto& [name, value] : metrics) {
    if (!text.empty()) text += ' ';
    // Four decimals suit losses and accuracies; a learning rate of 1e-5 or a loss scale
    // of 65536 reads better in scientific notation.
    const double magnitude = std::fabs(value);
    const bool scientific = magnitude != 0 && (magnitude < 1e-3 || magnitude >= 1e5);
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), scientific ? "%.4e" : "%.4f", value);
    text += name + "=" + buffer;
  }
  return text;
}

std::vector<std::pair<std::string, std::string>> flatten_yaml(const std::string& yaml) {
  std::vector<std::pair<std::string, std::string>> flat;
  flatten_node(config::parse_yaml(yaml, "config", false), "", flat);
  return flat;
}

}  // namespace trainer::logging
