#include "logging/jsonl_logger.h"

#include "config/schema.h"

#include <cmath>
#include <stdexcept>

namespace trainer::logging {
namespace {

std::string json_number(double value) {
  return std::isfinite(value) ? format_metric(value) : "null";
}

std::string json_time(double wall_time) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3f", wall_time);
  return buffer;
}

std::string json_metrics(const Metrics& metrics) {
  std::string text = "{";
  for (size_t i = 0; i < metrics.size(); ++i) {
    if (i > 0) text += ", ";
    text += config::json_string(metrics[i].first) + ": " + json_number(metrics[i].second);
  }
  return text + "}";
}

}  // namespace

JsonlLogger::JsonlLogger(std::string path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "w");
  if (file_ == nullptr) throw std::runtime_error("cannot create metrics file '" + path_ + "'");
}

JsonlLogger::~JsonlLogger() {
  if (file_ != nullptr) std::fclose(file_);
}

void JsonlLogger::log_hyperparams(const Hyperparams& hparams, double wall_time) {
  std::string flat = "{";
  for (size_t i = 0; i < hparams.flat.size(); ++i) {
    if (i > 0) flat += ", ";
    flat += config::json_string(hparams.flat[i].first) + ": " + config::json_string(hparams.flat[i].second);
  }
  flat += "}";
  write_line("{\"event\": \"hparams\", \"time\": " + json_time(wall_time) + ", \"hparams\": " + flat +
             ", \"config\": " + config::json_string(hparams.config_yaml) + "}");
}

void JsonlLogger::log_metrics(const MetricsEvent& event) {
  write_line("{\"event\": \"" + std::string(event_kind_name(event.kind)) + "\", \"epoch\": " +
             std::to_string(event.epoch) + ", \"step\": " + std::to_string(event.step) +
             ", \"time\": " + json_time(event.wall_time) + ", \"metrics\": " + json_metrics(event.metrics) + "}");
}

void JsonlLogger::finalize(const std::string& status, const Metrics& final_metrics, double wall_time) {
  write_line("{\"event\": \"end\", \"time\": " + json_time(wall_time) + ", \"status\": " + config::json_string(status) +
             ", \"metrics\": " + json_metrics(final_metrics) + "}");
}

void JsonlLogger::write_line(const std::string& line) {
  // Flushed per line, so a killed run keeps every event it logged.
  if (std::fputs((line + "\n").c_str(), file_) < 0 || std::fflush(file_) != 0) {
    throw std::runtime_error("cannot write metrics file '" + path_ + "'");
  }
}

}  // namespace trainer::logging
