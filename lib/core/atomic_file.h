#pragma once
/// Crash-safe file writes: a reader sees either the old file or the complete new one.

#include <string>

namespace trainer {

/// Writes `bytes` to `path` through a temporary file in the same folder that is
/// fsynced and then renamed over `path`. Throws std::runtime_error naming the path.
void write_file_atomic(const std::string& path, const std::string& bytes);

/// Reads a whole file. Throws std::runtime_error naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace trainer
