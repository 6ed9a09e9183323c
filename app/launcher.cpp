#include "app/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "core/signals.h"

namespace trainer::app {
namespace {

/// This process's argv, read back from /proc so that no caller has to pass it along.
std::vector<std::string> own_arguments() {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::string> arguments;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\0', start);
    arguments.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return arguments;
}

/// Finds a TCP port on 127.0.0.1 that is free now, for rank 0's TCPStore.
/// NOTE: another program may take the port before rank 0 binds it. The run then fails
/// with rank 0's "address already in use" error.
int free_local_port() {
  const int socket_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (socket_fd < 0) throw DeviceError(std::string("cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = ::bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  ::close(socket_fd);
  if (!ok) throw DeviceError(std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(error));
  return ntohs(address.sin_port);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

struct Worker {
  int64_t rank = 0;
  pid_t pid = -1;
  std::string error_file;  ///< where the rank's CLI writes its error (see TRAINER_ERROR_FILE)
  bool running = true;
  int exit_code = 0;
  int killed_by = 0;        ///< the signal that ended the process; 0 when it exited
  bool signalled = false;   ///< the launcher sent it a signal while it ran
};

/// Returns whether `code` is the exit code of a clean stop (SIGINT, SIGTERM, requeue), not a failure.
bool is_stop_code(int code) {
  return code == static_cast<int>(ExitCode::interrupted_int) || code == static_cast<int>(ExitCode::interrupted_term) ||
         code == static_cast<int>(ExitCode::requeue);
}

struct ErrorReport {
  int64_t time_ns = 0;
  std::string message;
};

/// Reads a rank's error file: the time of the error in nanoseconds, then the message.
std::optional<ErrorReport> read_error_file(const std::string& path) {
  std::ifstream file(path);
  ErrorReport report;
  if (!(file >> report.time_ns)) return std::nullopt;
  file.ignore(1);
  std::getline(file, report.message);
  return report;
}

/// Finds the rank that failed first: the earliest error file, or else the first rank seen
/// to fail. Ranks whose peer failed fail in turn on the closed connection, and may exit
/// sooner than the rank that caused it, so exit order alone would blame them.
int64_t root_cause_rank(const std::vector<Worker>& workers, int64_t first_failed, std::string& message) {
  // A rank killed by a signal that the launcher did not send (SIGKILL from the OOM killer,
  // SIGSEGV) writes no error file, so the ranks that then lost their peer would be blamed.
  for (const Worker& worker : workers) {
    if (worker.killed_by != 0 && !worker.signalled) {
      message = std::string("killed by signal ") + std::to_string(worker.killed_by) + " (" +
                ::strsignal(worker.killed_by) + ")";
      return worker.rank;
    }
  }
  int64_t rank = first_failed;
  int64_t earliest = std::numeric_limits<int64_t>::max();
  for (const Worker& worker : workers) {
    if (const std::optional<ErrorReport> report = read_error_file(worker.error_file)) {
      if (report->time_ns < earliest) {
        earliest = report->time_ns;
        rank = worker.rank;
        message = report->message;
      }
    }
  }
  return rank;
}

void signal_running(std::vector<Worker>& workers, int signal_number) {
  for (Worker& worker : workers) {
    if (!worker.running) continue;
    ::kill(worker.pid, signal_number);
    worker.signalled = true;
  }
}

/// Reaps workers that have ended; returns true when any is still running.
bool reap(std::vector<Worker>& workers, int64_t& first_failed) {
  bool any_running = false;
  for (Worker& worker : workers) {
    if (!worker.running) continue;
    int status = 0;
    const pid_t result = ::waitpid(worker.pid, &status, WNOHANG);
    if (result == worker.pid) {
      worker.running = false;
      worker.exit_code = exit_code_of(status);
      if (WIFSIGNALED(status)) worker.killed_by = WTERMSIG(status);
      if (worker.exit_code != 0 && first_failed < 0) first_failed = worker.rank;
    } else {
      any_running = true;
    }
  }
  return any_running;
}

}  // namespace

int launch_local_workers(int64_t processes, std::chrono::milliseconds grace) {
  const std::vector<std::string> arguments = own_arguments();
  if (arguments.empty()) throw DeviceError("cannot read this process's arguments from /proc/self/cmdline");
  std::vector<char*> argv;
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  const std::string port = std::to_string(free_local_port());
  std::string error_dir = (std::filesystem::temp_directory_path() / "trainer-ddp-XXXXXX").string();
  if (::mkdtemp(error_dir.data()) == nullptr) {
    throw DeviceError("cannot create a folder for the ranks' error files in " +
                      std::filesystem::temp_directory_path().string() + ": " + std::strerror(errno));
  }
  spdlog::info("launching {} ddp processes on 127.0.0.1:{}", processes, port);

  std::vector<Worker> workers;
  for (int64_t rank = 0; rank < processes; ++rank) {
    const std::string error_file = error_dir + "/rank_" + std::to_string(rank) + ".error";
    const pid_t launcher = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      signal_running(workers, SIGKILL);
      throw DeviceError("cannot start ddp rank " + std::to_string(rank) + ": fork failed: " + std::strerror(errno));
    }
    if (pid == 0) {
      // A rank gets SIGTERM when the launcher dies (killed by the OOM killer, say), so it
      // saves and stops instead of training on alone. The launcher may have died already.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(143);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(processes).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(processes).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::setenv("TRAINER_ERROR_FILE", error_file.c_str(), 1);
      ::execv("/proc/self/exe", argv.data());
      // Only async-signal-safe calls are allowed between fork and exec in a threaded process.
      const char message[] = "error: cannot execute /proc/self/exe for a ddp rank\n";
      [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, message, sizeof(message) - 1);
      ::_exit(127);
    }
    workers.push_back({rank, pid, error_file});
  }

  int64_t first_failed = -1;
  int forwarded_signal = 0;
  std::chrono::steady_clock::time_point kill_at{};
  while (reap(workers, first_failed)) {
    const int signal_number = received_stop_signal();
    if (signal_number != 0 && forwarded_signal == 0) {
      // Each rank saves and stops on its own; the launcher only passes the signal on.
      forwarded_signal = signal_number;
      signal_running(workers, signal_number);
    }
    if (first_failed >= 0 && kill_at == std::chrono::steady_clock::time_point{}) {
      const int code = workers[static_cast<size_t>(first_failed)].exit_code;
      if (is_stop_code(code) && workers[static_cast<size_t>(first_failed)].killed_by == 0) {
        // A clean stop: every rank stops after the same step, and rank 0 may still be
        // writing its checkpoint, so the others are left to finish.
        spdlog::info("ddp rank {} stopped with exit code {}; waiting for the other ranks", first_failed, code);
        first_failed = -1;
      } else {
        spdlog::error("ddp rank {} exited with code {}; stopping the other ranks", first_failed, code);
        signal_running(workers, SIGTERM);
        kill_at = std::chrono::steady_clock::now() + grace;
      }
    }
    if (kill_at != std::chrono::steady_clock::time_point{} && std::chrono::steady_clock::now() >= kill_at) {
      signal_running(workers, SIGKILL);
    }
    // A short interval, so a rank that fails is seen within milliseconds.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  // A rank that stopped cleanly (SIGINT, SIGTERM, the requeue signal) is not a failure, so
  // only the others can be blamed.
  auto failed = [](const Worker& worker) {
    return worker.exit_code != 0 && (worker.killed_by != 0 || !is_stop_code(worker.exit_code));
  };
  if (first_failed >= 0 && !failed(workers[static_cast<size_t>(first_failed)])) first_failed = -1;
  for (const Worker& worker : workers) {
    if (first_failed < 0 && failed(worker)) first_failed = worker.rank;
  }
  std::string message;
  const int64_t cause = first_failed >= 0 ? root_cause_rank(workers, first_failed, message) : -1;
  std::error_code ignored;
  std::filesystem::remove_all(error_dir, ignored);
  if (cause >= 0) {
    const int code = workers[static_cast<size_t>(cause)].exit_code;
    spdlog::error("ddp run failed: rank {} failed first (exit code {}){}{}", cause, code, message.empty() ? "" : ": ",
                  message);
    return code != 0 ? code : 1;
  }
  for (const Worker& worker : workers) {
    if (worker.exit_code != 0) {
      spdlog::warn("ddp run stopped: rank {} exited with code {}", worker.rank, worker.exit_code);
      return worker.exit_code;
    }
  }
  return 0;
}

}  // namespace trainer::app
