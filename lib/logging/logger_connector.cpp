#include "logging/logger_connector.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>

#include "core/atomic_file.h"

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

}  // namespace

LoggerConnector::LoggerConnector(const config::LoggerSettings& settings) : settings_(settings) {}

void LoggerConnector::begin_run(const std::string& config_yaml) {
  if (!settings_.write_files) {
    spdlog::info("nothing is written to disk in this run (fast_dev_run)");
    return;
  }
  const fs::path group = fs::path(settings_.default_root_dir) / settings_.run_name;
  std::error_code error;
  fs::create_directories(group, error);
  if (error) {
    throw std::runtime_error("cannot create run folder '" + group.string() + "': " + error.message());
  }
  // mkdir is atomic: when concurrent runs race for the same version, the loser tries the next.
  for (int64_t version = last_version(group) + 1;; ++version) {
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
  csv_ = std::make_unique<CsvLogger>((fs::path(run_dir_) / "metrics.csv").string());
  spdlog::info("run directory: {}", run_dir_);
}

void LoggerConnector::log_step(int64_t epoch, int64_t global_step, const Metrics& metrics,
                               const std::string& progress) {
  if (csv_) csv_->log(epoch, global_step, metrics);
  spdlog::info("{} {}", progress, format_metrics(metrics));
}

void LoggerConnector::log_metrics(int64_t epoch, int64_t global_step, const Metrics& metrics) {
  if (csv_) csv_->log(epoch, global_step, metrics);
  spdlog::debug("epoch={} step={} {}", epoch, global_step, format_metrics(metrics));
}

void LoggerConnector::log_epoch(int64_t epoch, int64_t global_step, const Metrics& metrics,
                                const std::string& prefix) {
  if (metrics.empty()) return;
  if (csv_) csv_->log(epoch, global_step, metrics);
  spdlog::info("{} {}", prefix, format_metrics(metrics));
}

std::string format_metrics(const Metrics& metrics) {
  std::string text;
  for (const auto& [name, value] : metrics) {
    if (!text.empty()) text += ' ';
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.4f", value);
    text += name + "=" + buffer;
  }
  return text;
}

}  // namespace trainer::logging
