#include "core/signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace trainer {
namespace {

// Lock-free atomics are async-signal-safe; the handler touches nothing else.
std::atomic<int> g_received{0};
std::atomic<int> g_requeue_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "signal handlers need a lock-free flag");

extern "C" void on_stop_signal(int signal_number) {
  int expected = 0;
  if (g_received.compare_exchange_strong(expected, signal_number)) return;
  if (signal_number == SIGINT) {
    // A second Ctrl-C: leave now. Every file is written through a temporary file and
    // a rename, so the run directory still holds complete files only.
    static const char message[] = "trainer: second SIGINT, exiting at once\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(130);
  }
}

void install(int signal_number) {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and writes in progress continue
  ::sigaction(signal_number, &action, nullptr);
}

}  // namespace

void install_stop_handlers(int requeue_signal) {
  g_requeue_signal = requeue_signal;
  install(SIGTERM);
  install(SIGINT);
  if (requeue_signal != 0) install(requeue_signal);
}

int received_stop_signal() { return g_received.load(); }

void request_stop(int signal_number) {
  int expected = 0;
  g_received.compare_exchange_strong(expected, signal_number);
}

void reset_stop_request() { g_received = 0; }

int parse_signal_name(const std::string& name) {
  if (name == "none" || name.empty()) return 0;
  std::string bare = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
  if (bare == "USR1") return SIGUSR1;
  if (bare == "USR2") return SIGUSR2;
  if (bare == "HUP") return SIGHUP;
  if (bare == "TERM" || bare == "INT") {
    throw UsageError("requeue signal '" + name + "' already stops runs with its own exit code; choose SIGUSR1, "
                     "SIGUSR2 or SIGHUP");
  }
  char* end = nullptr;
  const long number = std::strtol(bare.c_str(), &end, 10);
  if (!bare.empty() && *end == '\0' && number > 0 && number < NSIG && number != SIGKILL && number != SIGSTOP &&
      number != SIGTERM && number != SIGINT) {
    return static_cast<int>(number);
  }
  throw UsageError("invalid requeue signal '" + name + "'; use SIGUSR1, SIGUSR2, SIGHUP, a signal number, or none");
}

std::string signal_name(int signal_number) {
  switch (signal_number) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(signal_number);
  }
}

ExitCode stop_exit_code(int signal_number) {
  if (signal_number == SIGINT) return ExitCode::interrupted_int;
  if (signal_number == SIGTERM) return ExitCode::interrupted_term;
  if (signal_number != 0 && signal_number == g_requeue_signal.load()) return ExitCode::requeue;
  return ExitCode::failure;
}

}  // namespace trainer
