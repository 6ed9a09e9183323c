#include "accelerator/distributed.h"

#include <ATen/Functions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/errors.h"

namespace trainer::accelerator {
namespace {

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

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

ProcessGroup::ProcessGroup(const DistributedEnv& env, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), rank_(env.rank), world_size_(env.world_size) {
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(env.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);

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

void ProcessGroup::all_reduce(at::Tensor& tensor, logging::Reduction reduction) {
  std::vector<at::Tensor> tensors{tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = to_reduce_op(reduction);
  impl_->group->allreduce(tensors, options)->wait();
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors) {
  for (at::Tensor& tensor : tensors) {
    std::vector<at::Tensor> one{tensor};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    impl_->group->broadcast(one, options)->wait();
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

  // Gloo gathers equal shapes: pad every rank's rows to the longest, then cut them back.
  std::vector<std::vector<at::Tensor>> counts{std::vector<at::Tensor>(static_cast<size_t>(world_size_))};
  for (at::Tensor& count : counts[0]) count = at::empty({1}, at::kLong);
  std::vector<at::Tensor> own_count{at::full({1}, local.size(0), at::kLong)};
  impl_->group->allgather(counts, own_count)->wait();
  int64_t longest = 0;
  for (const at::Tensor& count : counts[0]) longest = std::max(longest, count.item<int64_t>());

  std::vector<int64_t> padded_shape = local.sizes().vec();
  padded_shape[0] = longest;
  std::vector<at::Tensor> padded{at::zeros(padded_shape, local.options())};
  padded[0].slice(0, 0, local.size(0)).copy_(local);
  std::vector<std::vector<at::Tensor>> gathered{std::vector<at::Tensor>(static_cast<size_t>(world_size_))};
  for (at::Tensor& part : gathered[0]) part = at::empty(padded_shape, local.options());
  impl_->group->allgather(gathered, padded)->wait();

  std::vector<at::Tensor> result;
  for (size_t rank = 0; rank < gathered[0].size(); ++rank) {
    result.push_back(gathered[0][rank].slice(0, 0, counts[0][rank].item<int64_t>()));
  }
  return result;
}

void ProcessGroupReducer::all_reduce(at::Tensor& tensor, logging::Reduction reduction) {
  group_.all_reduce(tensor, reduction);
}

}  // namespace trainer::accelerator
