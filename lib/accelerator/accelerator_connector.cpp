#include "accelerator/accelerator_connector.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cstdlib>
#include <optional>
#include <thread>

#include "accelerator/distributed.h"
#include "core/compat.h"
#include "core/errors.h"

namespace trainer::accelerator {
namespace {

/// Returns the CUDA device index of the process with `local_rank`: its entry in the id
/// list of trainer.devices, or the local rank itself when no ids are listed.
int64_t cuda_index(const config::DeviceRequest& devices, int64_t local_rank) {
  int64_t index = local_rank;
  if (!devices.ids.empty()) {
    if (local_rank >= static_cast<int64_t>(devices.ids.size())) {
      throw DeviceError("local rank " + std::to_string(local_rank) + " has no device in trainer.devices '" +
                        config::device_ids_text(devices) + "', which lists " + std::to_string(devices.ids.size()) +
                        " ids; start one process per listed device on each node");
    }
    index = devices.ids[static_cast<size_t>(local_rank)];
  }
  const auto visible = static_cast<int64_t>(torch::cuda::device_count());
  if (index >= visible) {
    throw DeviceError("CUDA device " + std::to_string(index) + " (for local rank " + std::to_string(local_rank) +
                      ") does not exist: LibTorch sees " + std::to_string(visible) + " CUDA device(s), ids 0 to " +
                      std::to_string(visible - 1) + "; check trainer.devices and CUDA_VISIBLE_DEVICES");
  }
  return index;
}

/// Returns whether trainer.accelerator resolves to CUDA, checking that CUDA devices exist
/// when requested and that device ids are listed only for CUDA.
bool resolve_use_cuda(const config::AcceleratorSettings& settings, const config::DeviceRequest& devices) {
  const bool cuda_available = torch::cuda::is_available();
  const std::string& requested = settings.accelerator;
  bool use_cuda = false;
  if (requested == "cuda" || requested == "gpu") {
    if (!cuda_available) {
      throw DeviceError("trainer.accelerator is '" + requested +
                        "' but LibTorch sees " + std::to_string(torch::cuda::device_count()) +
                        " CUDA devices (a CPU-only LibTorch build, no GPU, or CUDA_VISIBLE_DEVICES hides them); "
                        "use --trainer.accelerator=cpu");
    }
    use_cuda = true;
  } else if (requested == "auto") {
    use_cuda = cuda_available;
  }
  if (devices.ids.empty() || use_cuda) return use_cuda;

  if (requested == "cpu") {
    throw UsageError("trainer.devices lists the device ids '" + config::device_ids_text(devices) +
                     "', which select CUDA devices, but trainer.accelerator is 'cpu'; give a number of processes "
                     "such as --trainer.devices=" + std::to_string(devices.count) +
                     ", or set --trainer.accelerator=cuda");
  }
  throw DeviceError("trainer.devices lists the CUDA device ids '" + config::device_ids_text(devices) +
                    "', but LibTorch found no CUDA device, so trainer.accelerator 'auto' chose the CPU; give a "
                    "number of processes such as --trainer.devices=" + std::to_string(devices.count) +
                    " to run on the CPU");
}

/// Throws UsageError when several devices are requested without strategy 'ddp'.
void check_strategy(const config::AcceleratorSettings& settings, const config::DeviceRequest& devices) {
  if (settings.strategy != "ddp" && devices.count > 1) {
    throw UsageError("trainer.devices is " + settings.devices +
                     " but strategy 'auto' trains on one device in one process; set --trainer.strategy=ddp or "
                     "--trainer.devices=1");
  }
}

}  // namespace

void check_accelerator_settings(const config::AcceleratorSettings& settings) {
  const config::DeviceRequest devices = config::parse_devices(settings.devices);
  const bool use_cuda = resolve_use_cuda(settings, devices);
  check_strategy(settings, devices);
  if (use_cuda) {
    for (int64_t local_rank = 0; local_rank < devices.count; ++local_rank) cuda_index(devices, local_rank);
  }
  resolve_precision(settings.precision, use_cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU);
}

int64_t requested_processes(const config::AcceleratorSettings& settings) {
  const config::DeviceRequest devices = config::parse_devices(settings.devices);
  return settings.strategy == "ddp" ? devices.count : 1;
}

AcceleratorConnector::AcceleratorConnector(const config::AcceleratorSettings& settings)
    : precision_(settings.precision) {
  if (settings.deterministic) {
    // cuBLAS is deterministic only with a fixed workspace, which it reads from the
    // environment when it starts. LibTorch raises at the first CUDA matrix product without it.
    // A value the user set is kept.
    ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  }
  const config::DeviceRequest devices = config::parse_devices(settings.devices);
  const bool use_cuda = resolve_use_cuda(settings, devices);

  std::optional<DistributedEnv> env;
  if (settings.strategy == "ddp") {
    env = read_distributed_env();
    if (env && env->world_size <= 1) env.reset();
  }
  check_strategy(settings, devices);

  if (use_cuda) {
    device_ = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(
                                          cuda_index(devices, env ? env->local_rank : 0)));
    // Kernels and NCCL communicators that do not name a device use the current one.
    c10::impl::getDeviceGuardImpl(c10::kCUDA)->setDevice(device_);
  }
  // Before joining the process group, so that an unsupported precision fails at once.
  policy_ = resolve_precision(settings.precision, device_.type());

  bucket_cap_bytes_ = static_cast<int64_t>(settings.bucket_cap_mb * 1024 * 1024);
  if (env) {
    group_ = std::make_unique<ProcessGroup>(*env, std::chrono::seconds(settings.process_group_timeout), device_);
    rank_ = env->rank;
    world_size_ = env->world_size;
  }

  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  // Several ranks on one machine compete for its cores, and OpenMP's busy-waiting makes
  // that slow, so each rank defaults to one thread.
  const int default_threads = world_size_ > 1 ? 1 : static_cast<int>(hardware);
  num_threads_ = settings.num_threads > 0 ? static_cast<int>(settings.num_threads) : default_threads;
  at::set_num_threads(num_threads_);

  if (settings.deterministic) {
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
  }
}

AcceleratorConnector::~AcceleratorConnector() = default;

void convert_floating_tensors(torch::nn::Module& module, at::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  for (at::Tensor tensor : module.parameters()) {
    if (tensor.is_floating_point() && tensor.scalar_type() != dtype) tensor.set_data(tensor.to(dtype));
  }
  for (at::Tensor tensor : module.buffers()) {
    if (tensor.is_floating_point() && tensor.scalar_type() != dtype) tensor.set_data(tensor.to(dtype));
  }
}

void AcceleratorConnector::prepare(torch::nn::Module& module) const {
  module.to(device_);
  convert_floating_tensors(module, dtype());
}

std::unique_ptr<GradientReducer> AcceleratorConnector::make_gradient_reducer(
    const std::vector<at::Tensor>& parameters) const {
  if (!group_) return nullptr;
  return std::make_unique<GradientReducer>(*group_, parameters, bucket_cap_bytes_);
}

GradScaler AcceleratorConnector::make_grad_scaler() const {
  GradScalerOptions options;
  options.enabled = policy_.grad_scaler;
  return GradScaler(options);
}

std::string AcceleratorConnector::describe() const {
  std::string text = "device=" + device_.str() + " threads=" + std::to_string(num_threads_) + " precision=" + precision_;
  if (world_size_ > 1) text += " rank=" + std::to_string(rank_) + "/" + std::to_string(world_size_);
  return text;
}

AcceleratorConnector::AutocastScope::AutocastScope(c10::DeviceType device_type, bool enabled, at::ScalarType dtype)
    : device_type_(device_type), enabled_(enabled), dtype_(dtype) {
  if (enabled_) compat::set_autocast(device_type_, true, dtype_);
}

AcceleratorConnector::AutocastScope::~AutocastScope() {
  if (enabled_) compat::set_autocast(device_type_, false, dtype_);
}

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);  // seeds the CPU generator and every CUDA generator
}

}  // namespace trainer::accelerator
