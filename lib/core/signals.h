#pragma once
/// Stop requests from signals. The handlers only record the signal number; the
/// Trainer polls it after each optimizer step, saves a resumable checkpoint and
/// ends the run with the signal's exit code. Only app/ installs the handlers.

#include <string>

#include "core/errors.h"

namespace trainer {

/// Installs handlers for SIGTERM, SIGINT and `requeue_signal` (0 for none). The
/// first of them is recorded for received_stop_signal(); a second SIGINT ends the
/// process at once with exit code 130. Explicit handlers also make the signals work
/// when trainer runs as PID 1 in a container, where the kernel drops signals whose
/// action is the default.
void install_stop_handlers(int requeue_signal);

/// The first stop signal received, or 0 when none arrived. Safe to call at any time.
int received_stop_signal();

/// Records `signal_number` as if it had arrived; tests use this, and so could a
/// process group that relays a stop from another rank.
void request_stop(int signal_number);

/// Forgets a recorded signal (tests run several fits in one process).
void reset_stop_request();

/// Parses a signal name for the requeue signal: "SIGUSR1", "USR1", "SIGUSR2", a
/// number, or "none" (returns 0). Throws UsageError for anything else.
int parse_signal_name(const std::string& name);

/// "SIGTERM", "SIGINT", "SIGUSR1", ... or "signal N".
std::string signal_name(int signal_number);

/// Exit code of a run stopped by `signal_number`: 130 for SIGINT, 143 for SIGTERM,
/// ExitCode::requeue for the installed requeue signal.
ExitCode stop_exit_code(int signal_number);

}  // namespace trainer
