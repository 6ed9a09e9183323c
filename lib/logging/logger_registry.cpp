#include "logging/logger_registry.h"

#include <filesystem>

#include "logging/csv_logger.h"
#include "logging/jsonl_logger.h"
#include "logging/tensorboard_logger.h"

namespace trainer::logging {
namespace {

/// The built-in loggers take no arguments: each writes fixed file names into the run directory.
struct NoArgs : config::Args {
  void visit(config::FieldVisitor&) override {}
};

std::string in_run_dir(const std::string& run_dir, const char* name) {
  return (std::filesystem::path(run_dir) / name).string();
}

}  // namespace

const char* event_kind_name(EventKind kind) {
  return kind == EventKind::step ? "step" : "epoch";
}

LoggerRegistry& logger_registry() {
  static LoggerRegistry registry = [] {
    LoggerRegistry built_in;
    built_in.add<NoArgs>("csv", "metrics.csv: one row per step or epoch event, one column per metric",
                         [](const NoArgs&, const std::string& run_dir) -> std::unique_ptr<Logger> {
                           return std::make_unique<CsvLogger>(in_run_dir(run_dir, "metrics.csv"));
                         });
    built_in.add<NoArgs>("tensorboard", "TensorBoard event file: scalars, hyperparameters and the config as text",
                         [](const NoArgs&, const std::string& run_dir) -> std::unique_ptr<Logger> {
                           return std::make_unique<TensorBoardLogger>(run_dir);
                         });
    built_in.add<NoArgs>("jsonl", "metrics.jsonl: one JSON object per event, for scripts and sweeps",
                         [](const NoArgs&, const std::string& run_dir) -> std::unique_ptr<Logger> {
                           return std::make_unique<JsonlLogger>(in_run_dir(run_dir, "metrics.jsonl"));
                         });
    return built_in;
  }();
  return registry;
}

}  // namespace trainer::logging
