#pragma once
/// The logger registry: `trainer.logger` entries choose loggers by class_path.

#include <memory>
#include <string>

#include "core/registry.h"
#include "logging/logger.h"

namespace trainer::logging {

/// Loggers are built from their init_args and the run directory they write into.
using LoggerRegistry = Registry<std::unique_ptr<Logger>, const std::string&>;

/// The logger registry with csv, tensorboard and jsonl registered.
LoggerRegistry& logger_registry();

}  // namespace trainer::logging
