#pragma once
/// The single-machine launcher of `fit` with strategy 'ddp': runs this executable once per
/// rank, as torchrun would, and supervises the ranks.

#include <chrono>
#include <cstdint>

namespace trainer::app {

/// Re-executes /proc/self/exe with this process's own arguments as `processes` workers,
/// each with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT,
/// and waits for them. A stop signal this process receives is forwarded to every worker.
/// When a worker fails, the others get SIGTERM and, after `grace`, SIGKILL. Returns 0 when
/// every worker succeeded, else the exit code of the first worker that failed (128 + the
/// signal for a killed one). Throws DeviceError when a worker cannot be started.
int launch_local_workers(int64_t processes, std::chrono::milliseconds grace = std::chrono::seconds(10));

}  // namespace trainer::app
