#include "accelerator/distributed.h"

#include <ATen/Functions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/api/include/torch/version.h>
#ifdef TRAINER_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "core/errors.h"

namespace trainer::accelerator {
namespace {

// The common base of c10d's Gloo and NCCL process groups: c10d::ProcessGroup in LibTorch
// 1.13, c10d::Backend in 2.x, where ProcessGroup became a wrapper that dispatches to them.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

std::optional<std::string> env_value(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int64_t env_integer(const char* name, int64_t fallback) {
  const std::optional<std::string> text = env_value(name);
  if (!text) return fallback;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size()) {
    throw DeviceError(std::string("environment variable ") + name + "='" + *text + "' is not an integer");
  }
  return value;
}

/// The first host of a SLURM node list such as "node[01-04],other" is "node01".
std::string first_slurm_host(const std::string& nodes) {
  const size_t bracket = nodes.find('[');
  const size_t comma = nodes.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return nodes.substr(0, comma);
  }
  const size_t end = nodes.find_first_of("-,]", bracket + 1);
  return nodes.substr(0, bracket) + nodes.substr(bracket + 1, end - bracket - 1);
}

c10d::ReduceOp to_reduce_op(logging::Reduction reduction) {
  switch (reduction) {
    case logging::Reduction::sum: return c10d::ReduceOp::SUM;
    case logging::Reduction::max: return c10d::ReduceOp::MAX;
    case logging::Reduction::min: return c10d::ReduceOp::MIN;
    case logging::Reduction::mean: break;
  }
  throw std::invalid_argument("all_reduce takes sum, max or min; reduce a mean as a (sum, weight) pair");
}

}  // namespace

std::optional<DistributedEnv> read_distributed_env() {
  DistributedEnv env;
  if (env_value("RANK")) {
    env.source = "torchrun";
    env.rank = env_integer("RANK", 0);
    env.world_size = env_integer("WORLD_SIZE", 1);
    env.local_rank = env_integer("LOCAL_RANK", env.rank);
  } else if (env_value("SLURM_PROCID") && env_value("SLURM_NTASKS")) {
    env.source = "slurm";
    env.rank = env_integer("SLURM_PROCID", 0);
    env.world_size = env_integer("SLURM_NTASKS", 1);
    env.local_rank = env_integer("SLURM_LOCALID", 0);
    if (const auto nodes = env_value("SLURM_JOB_NODELIST")) env.master_addr = first_slurm_host(*nodes);
  } else {
    return std::nullopt;
  }
  if (const auto addr = env_value("MASTER_ADDR")) env.master_addr = *addr;
  env.master_port = env_integer("MASTER_PORT", env.master_port);
  if (env.world_size < 1 || env.rank < 0 || env.rank >= env.world_size) {
    throw DeviceError("invalid distributed environment from " + env.source + ": rank " + std::to_string(env.rank) +
                      " of world size " + std::to_string(env.world_size) + "; the rank must be in [0, world_size)");
  }
  if (env.master_port < 1 || env.master_port > 65535) {
    throw DeviceError("MASTER_PORT=" + std::to_string(env.master_port) + " is not a TCP port (1-65535)");
  }
  return env;
}

bool nccl_available() {
#ifdef TRAINER_WITH_NCCL
  return true;
#else
  return false;
#endif
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<CollectiveBackend> group;
  std::string backend = "gloo";
  /// NCCL reduces tensors on its CUDA device only, so CPU tensors are copied there and back.
  std::optional<c10::Device> staging_device;

  /// Returns `tensor` as the backend takes it: on NCCL's device, and as float32 for Gloo,
  /// whose LibTorch 1.13 build rejects bfloat16 ("Invalid scalar type"). Callers copy a
  /// result that is not `tensor` itself back into it.
  at::Tensor on_backend_device(const at::Tensor& tensor) const {
    at::Tensor staged = tensor;
    if (backend == "gloo" && tensor.scalar_type() == at::kBFloat16) staged = staged.to(at::kFloat);
    if (staging_device && staged.device() != *staging_device) staged = staged.to(*staging_device);
    return staged;
  }

  /// Fills `outputs`, one tensor per rank shaped like `input`, with every rank's `input`.
  void all_gather(std::vector<at::Tensor>& outputs, const at::Tensor& input) const {
    std::vector<std::vector<at::Tensor>> staged_outputs(1);
    for (const at::Tensor& output : outputs) staged_outputs[0].push_back(on_backend_device(output));
    std::vector<at::Tensor> staged_input{on_backend_device(input)};
    group->allgather(staged_outputs, staged_input)->wait();
    for (size_t rank = 0; rank < outputs.size(); ++rank) {
      if (!staged_outputs[0][rank].is_same(outputs[rank])) outputs[rank].copy_(staged_outputs[0][rank]);
    }
  }
};

ProcessGroup::ProcessGroup(const DistributedEnv& env, std::chrono::milliseconds timeout, c10::Device device)
    : impl_(std::make_unique<Impl>()), rank_(env.rank), world_size_(env.world_size) {
  if (device.is_cuda() && !nccl_available()) {
    throw DeviceError("strategy 'ddp' on CUDA device " + device.str() +
                      " needs NCCL, but this build of trainer has no NCCL (it was built against a LibTorch "
                      "without CUDA, or with TRAINER_NCCL=OFF); rebuild against a CUDA build of LibTorch, as the "
                      "Dockerfile's cuda target does, or set --trainer.accelerator=cpu to train with Gloo");
  }
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(env.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);

#ifdef TRAINER_WITH_NCCL
    if (device.is_cuda()) {
      // NOTE: no compiler has checked this branch: the CPU build leaves it out. It
      // follows ProcessGroupNCCL.hpp of LibTorch 1.13 and 2.x, whose constructor
      // (store, rank, size, options) and Options::create() match.
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, static_cast<int>(env.rank),
                                                                 static_cast<int>(env.world_size), nccl_options);
      impl_->backend = "nccl";
      impl_->staging_device = device;
      return;
    }
#endif
    auto options = c10d::ProcessGroupGloo::Options::create();
    options->timeout = timeout;
    // Loopback when the rendezvous is local; otherwise the interface this host resolves to.
    const bool local = env.master_addr == "127.0.0.1" || env.master_addr == "localhost";
    options->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                     : c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 1;
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(env.rank),
                                                               static_cast<int>(env.world_size), options);
  } catch (const c10::Error& error) {
    throw DeviceError("rank " + std::to_string(env.rank) + " could not join the process group at " + where + ": " +
                      error.what_without_backtrace());
  } catch (const std::runtime_error& error) {
    throw DeviceError("rank " + std::to_string(env.rank) + " could not join the process group at " + where + ": " +
                      error.what());
  }
}

ProcessGroup::~ProcessGroup() = default;

std::string ProcessGroup::backend() const { return impl_->backend; }

void ProcessGroup::all_reduce(at::Tensor& tensor, logging::Reduction reduction) {
  std::vector<at::Tensor> tensors{impl_->on_backend_device(tensor)};
  c10d::AllreduceOptions options;
  options.reduceOp = to_reduce_op(reduction);
  impl_->group->allreduce(tensors, options)->wait();
  if (!tensors[0].is_same(tensor)) tensor.copy_(tensors[0]);
}

namespace {

class PendingWork : public ProcessGroup::Pending {
 public:
  PendingWork(c10::intrusive_ptr<c10d::Work> work, at::Tensor staged, at::Tensor tensor)
      : work_(std::move(work)), staged_(std::move(staged)), tensor_(std::move(tensor)) {}
  void wait() override {
    work_->wait();
    if (!staged_.is_same(tensor_)) tensor_.copy_(staged_);
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  at::Tensor staged_;  ///< what the backend reduces: `tensor_` itself, or a copy on its device or dtype
  at::Tensor tensor_;
};

}  // namespace

std::unique_ptr<ProcessGroup::Pending> ProcessGroup::all_reduce_sum_async(const at::Tensor& tensor) {
  std::vector<at::Tensor> tensors{impl_->on_backend_device(tensor)};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  c10::intrusive_ptr<c10d::Work> work = impl_->group->allreduce(tensors, options);
  return std::make_unique<PendingWork>(std::move(work), tensors[0], tensor);
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors) {
  for (at::Tensor& tensor : tensors) {
    std::vector<at::Tensor> one{impl_->on_backend_device(tensor)};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    impl_->group->broadcast(one, options)->wait();
    if (!one[0].is_same(tensor)) tensor.copy_(one[0]);
  }
}

std::string ProcessGroup::broadcast_text(const std::string& text) {
  std::vector<at::Tensor> length{at::scalar_tensor(static_cast<int64_t>(text.size()), at::kLong)};
  broadcast(length);
  std::vector<at::Tensor> bytes{at::empty({length[0].item<int64_t>()}, at::kByte)};
  if (rank_ == 0) std::memcpy(bytes[0].data_ptr(), text.data(), text.size());
  if (bytes[0].numel() > 0) broadcast(bytes);
  return std::string(static_cast<const char*>(bytes[0].data_ptr()), static_cast<size_t>(bytes[0].numel()));
}

std::vector<at::Tensor> ProcessGroup::all_gather_rows(const at::Tensor& rows) {
  // Rank 0's dtype and trailing shape, for ranks that have no rows to say it themselves.
  std::string layout;
  if (rank_ == 0 && rows.defined()) {
    layout = std::to_string(static_cast<int>(rows.scalar_type()));
    for (int64_t dim = 1; dim < rows.dim(); ++dim) layout += " " + std::to_string(rows.size(dim));
  }
  layout = broadcast_text(layout);
  at::Tensor local = rows;
  if (!local.defined()) {
    std::istringstream fields(layout);
    int dtype = 0;
    fields >> dtype;
    std::vector<int64_t> shape{0};
    for (int64_t size = 0; fields >> size;) shape.push_back(size);
    local = at::empty(shape, static_cast<at::ScalarType>(dtype));
  }
  local = local.contiguous();
  if (local.dim() == 0) throw std::invalid_argument("all_gather_rows takes tensors with a first dimension of rows");

  // Gloo and NCCL gather equal shapes: pad every rank's rows to the longest, then cut them back.
  std::vector<at::Tensor> counts(static_cast<size_t>(world_size_));
  for (at::Tensor& count : counts) count = at::empty({1}, at::kLong);
  impl_->all_gather(counts, at::full({1}, local.size(0), at::kLong));
  int64_t longest = 0;
  for (const at::Tensor& count : counts) longest = std::max(longest, count.item<int64_t>());
  int64_t row_size = 1;
  for (int64_t dim = 1; dim < local.dim(); ++dim) row_size *= local.size(dim);
  if (longest == 0 || row_size == 0) {
    // Nothing to send: Gloo's gather of empty buffers divides by zero (SIGFPE).
    return std::vector<at::Tensor>(static_cast<size_t>(world_size_), local);
  }

  std::vector<int64_t> padded_shape = local.sizes().vec();
  padded_shape[0] = longest;
  at::Tensor padded = at::zeros(padded_shape, local.options());
  padded.slice(0, 0, local.size(0)).copy_(local);
  std::vector<at::Tensor> gathered(static_cast<size_t>(world_size_));
  for (at::Tensor& part : gathered) part = at::empty(padded_shape, local.options());
  impl_->all_gather(gathered, padded);

  std::vector<at::Tensor> result;
  for (size_t rank = 0; rank < gathered.size(); ++rank) {
    result.push_back(gathered[rank].slice(0, 0, counts[rank].item<int64_t>()));
  }
  return result;
}

void ProcessGroupReducer::all_reduce(at::Tensor& tensor, logging::Reduction reduction) {
  group_.all_reduce(tensor, reduction);
}

}  // namespace trainer::accelerator
