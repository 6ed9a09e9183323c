#include "trainer/results.h"

#include <cmath>
#include <cstdio>

#include "config/schema.h"
#include "core/atomic_file.h"
#include "core/errors.h"

namespace trainer {
namespace {

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";  // JSON has no NaN or infinity
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

std::string json_metrics(const logging::Metrics& metrics) {
  std::string text = "{";
  for (size_t i = 0; i < metrics.size(); ++i) {
    text += (i ? ", " : "") + config::json_string(metrics[i].first) + ": " + json_number(metrics[i].second);
  }
  return text + "}";
}

std::string json_or_null(const std::string& text) { return text.empty() ? "null" : config::json_string(text); }

}  // namespace

std::string status_for_exit_code(int exit_code) {
  switch (static_cast<ExitCode>(exit_code)) {
    case ExitCode::ok: return "completed";
    case ExitCode::diverged: return "diverged";
    case ExitCode::interrupted_int:
    case ExitCode::interrupted_term: return "interrupted";
    default: return "failed";
  }
}

std::string config_hash(const std::string& text) {
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a offset basis
  for (const unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;  // FNV-1a prime
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "fnv1a64:%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

void write_results_json(const std::string& path, const RunRecord& record) {
  std::string overrides = "[";
  for (size_t i = 0; i < record.overrides.size(); ++i) {
    overrides += (i ? ", " : "") + config::json_string(record.overrides[i]);
  }
  overrides += "]";
  const std::string text =
      "{\n"
      "  \"status\": " + config::json_string(record.status) + ",\n" +
      "  \"exit_code\": " + std::to_string(record.exit_code) + ",\n" +
      "  \"stage\": " + config::json_string(record.stage) + ",\n" +
      "  \"error\": " + json_or_null(record.error) + ",\n" +
      "  \"run_dir\": " + config::json_string(record.run_dir) + ",\n" +
      "  \"wall_time_seconds\": " + json_number(record.wall_time_seconds) + ",\n" +
      "  \"config_hash\": " + config::json_string(record.config_hash) + ",\n" +
      "  \"overrides\": " + overrides + ",\n" +
      "  \"final_metrics\": " + json_metrics(record.final_metrics) + ",\n" +
      "  \"best_metrics\": " + json_metrics(record.best_metrics) + ",\n" +
      "  \"best_checkpoint\": " + json_or_null(record.best_checkpoint) + ",\n" +
      "  \"monitor\": " + json_or_null(record.monitor) + ",\n" +
      "  \"best_score\": " + (record.best_score ? json_number(*record.best_score) : "null") + ",\n" +
      "  \"last_checkpoint\": " + json_or_null(record.last_checkpoint) + "\n" +
      "}\n";
  write_file_atomic(path, text);
}

}  // namespace trainer
