#pragma once
/// Typed errors that carry the process exit code the CLI maps them to.
/// Only app/ catches these and exits; library code throws and never exits.

#include <stdexcept>
#include <string>

namespace trainer {

/// Process exit codes, documented in README.md ("Exit codes").
enum class ExitCode : int {
  ok = 0,
  failure = 1,       // unexpected runtime failure (a bug or a LibTorch error without more context)
  usage = 2,         // bad command line or config: nothing was created on disk
  data = 3,          // dataset missing, unreadable or malformed
  checkpoint = 4,    // checkpoint missing, unreadable or incompatible, or the run directory cannot hold one
  device = 5,        // requested device or precision is not available
  diverged = 6,      // training stopped on a non-finite loss
  requeue = 75,      // the requeue signal (SIGUSR1 by default): stopped cleanly, resume later; EX_TEMPFAIL
  interrupted_int = 130,   // SIGINT: stopped cleanly
  interrupted_term = 143,  // SIGTERM: stopped cleanly
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

class DataError : public Error {
 public:
  explicit DataError(const std::string& message) : Error(ExitCode::data, message) {}
};

class CheckpointError : public Error {
 public:
  explicit CheckpointError(const std::string& message) : Error(ExitCode::checkpoint, message) {}
};

class DeviceError : public Error {
 public:
  explicit DeviceError(const std::string& message) : Error(ExitCode::device, message) {}
};

class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(ExitCode::usage, message) {}
};

/// A run stopped by SIGTERM, SIGINT or the requeue signal after saving what it could.
class InterruptedError : public Error {
 public:
  InterruptedError(ExitCode code, const std::string& message) : Error(code, message) {}
};

class DivergedError : public Error {
 public:
  explicit DivergedError(const std::string& message) : Error(ExitCode::diverged, message) {}
};

}  // namespace trainer
