#pragma once
/// The c10d process group of a distributed data-parallel run, behind a small interface
/// so that no header outside this file's .cpp pulls in c10d or Gloo.

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "logging/reducer.h"

namespace trainer::accelerator {

/// This process's place in a distributed run (rank, world size, master address), as a launcher sets it.
struct DistributedEnv {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::string source;  ///< "torchrun" (RANK, WORLD_SIZE, ...), "slurm" (SLURM_PROCID, ...) or empty
};

/// Reads torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)
/// and, when RANK is absent, SLURM's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID); returns
/// nullopt when neither launcher set this process up. Throws DeviceError for values
/// that are not integers or a rank outside [0, world_size).
std::optional<DistributedEnv> read_distributed_env();

/// Returns whether this build can create NCCL process groups: true when it was compiled
/// against a CUDA build of LibTorch with TRAINER_WITH_NCCL.
bool nccl_available();

/// A TCPStore (rank 0 serves it) and a process group over it: Gloo for a CPU `device`,
/// NCCL for a CUDA one. all_reduce and broadcast accept CPU tensors with either backend;
/// on NCCL they pass through `device` and are copied back.
class ProcessGroup {
 public:
  /// Joins the group; blocks until every rank has joined or `timeout` passes, and
  /// then throws DeviceError naming the address and port. Throws DeviceError at once
  /// for a CUDA `device` when nccl_available() is false.
  ProcessGroup(const DistributedEnv& env, std::chrono::milliseconds timeout, c10::Device device = c10::kCPU);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  /// "gloo" or "nccl".
  std::string backend() const;

  /// Combines `tensor` across every rank in place (sum, max or min; mean is rejected).
  void all_reduce(at::Tensor& tensor, logging::Reduction reduction);

  /// A collective started by all_reduce_sum_async. After wait(), the tensor contains the result.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;
  };
  /// Starts summing `tensor` across every rank in place and returns at once, so that the
  /// caller can go on computing. `tensor` must stay alive and unchanged until wait().
  std::unique_ptr<Pending> all_reduce_sum_async(const at::Tensor& tensor);
  /// Overwrites `tensors` on every rank with rank 0's values.
  void broadcast(std::vector<at::Tensor>& tensors);
  /// Returns rank 0's `text` on every rank.
  std::string broadcast_text(const std::string& text);
  /// Returns every rank's `rows`, in rank order, on every rank. The ranks may have
  /// different numbers of rows but must agree on dtype and the other dimensions. A rank
  /// with none may pass an undefined tensor, which then takes rank 0's dtype and shape.
  std::vector<at::Tensor> all_gather_rows(const at::Tensor& rows);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
};

/// logging::Reducer over a process group, for the LoggerConnector's metrics.
class ProcessGroupReducer : public logging::Reducer {
 public:
  explicit ProcessGroupReducer(ProcessGroup& group) : group_(group) {}
  void all_reduce(at::Tensor& tensor, logging::Reduction reduction) override;
  std::string broadcast_text(const std::string& text) override { return group_.broadcast_text(text); }

 private:
  ProcessGroup& group_;
};

}  // namespace trainer::accelerator
