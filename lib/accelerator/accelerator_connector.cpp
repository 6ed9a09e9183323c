#include "accelerator/accelerator_connector.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <charconv>
#include <thread>

#include "accelerator/distributed.h"
#include "core/compat.h"
#include "core/errors.h"

namespace trainer::accelerator {
namespace {

int64_t parse_device_count(const std::string& devices) {
  if (devices == "auto") return 1;
  int64_t count = 0;
  auto [end, ec] = std::from_chars(devices.data(), devices.data() + devices.size(), count);
  if (ec != std::errc() || end != devices.data() + devices.size() || count < 1) {
    throw UsageError("trainer.devices must be a positive integer or 'auto', got '" + devices + "'");
  }
  return count;
}

}  // namespace

int64_t requested_processes(const config::AcceleratorSettings& settings) {
  const int64_t devices = parse_device_count(settings.devices);
  return settings.strategy == "ddp" ? devices : 1;
}

AcceleratorConnector::AcceleratorConnector(const config::AcceleratorSettings& settings)
    : precision_(settings.precision) {
  const bool cuda_available = torch::cuda::is_available();
  const std::string& requested = settings.accelerator;
  if (requested == "cuda" || requested == "gpu") {
    if (!cuda_available) {
      throw DeviceError("trainer.accelerator is '" + requested +
                        "' but LibTorch found no CUDA device (CUDA devices visible: " +
                        std::to_string(torch::cuda::device_count()) + "); use --trainer.accelerator=cpu");
    }
    device_ = c10::Device(c10::kCUDA, 0);
  } else if (requested == "auto" && cuda_available) {
    device_ = c10::Device(c10::kCUDA, 0);
  }

  const int64_t devices = parse_device_count(settings.devices);
  if (settings.strategy == "ddp") {
    const std::optional<DistributedEnv> env = read_distributed_env();
    if (env && env->world_size > 1) {
      if (device_.is_cuda()) {
        // NOTE: NCCL is not wired up; a CUDA build would create ProcessGroupNCCL here and
        // pick device LOCAL_RANK. Until then ddp runs on the CPU with Gloo only.
        throw DeviceError("strategy 'ddp' supports the CPU (Gloo) only in this version; set --trainer.accelerator=cpu");
      }
      group_ = std::make_unique<ProcessGroup>(*env, std::chrono::seconds(settings.process_group_timeout));
      rank_ = env->rank;
      world_size_ = env->world_size;
    }
  } else if (devices > 1) {
    throw DeviceError("trainer.devices is " + settings.devices +
                      " but strategy 'auto' trains on one device in one process; set --trainer.strategy=ddp or "
                      "--trainer.devices=1");
  }

  if (settings.precision == "64" || settings.precision == "64-true") {
    dtype_ = at::kDouble;
  } else if (settings.precision == "bf16-mixed") {
    mixed_ = true;
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

void AcceleratorConnector::prepare(torch::nn::Module& module) const {
  module.to(device_);
  torch::NoGradGuard no_grad;
  for (at::Tensor tensor : module.parameters()) {
    if (tensor.is_floating_point() && tensor.scalar_type() != dtype_) tensor.set_data(tensor.to(dtype_));
  }
  for (at::Tensor tensor : module.buffers()) {
    if (tensor.is_floating_point() && tensor.scalar_type() != dtype_) tensor.set_data(tensor.to(dtype_));
  }
}

std::string AcceleratorConnector::describe() const {
  std::string text = "device=" + device_.str() + " threads=" + std::to_string(num_threads_) + " precision=" + precision_;
  if (world_size_ > 1) text += " rank=" + std::to_string(rank_) + "/" + std::to_string(world_size_);
  return text;
}

AcceleratorConnector::AutocastScope::AutocastScope(c10::DeviceType device_type, bool enabled)
    : device_type_(device_type), enabled_(enabled) {
  if (enabled_) compat::set_autocast(device_type_, true, at::kBFloat16);
}

AcceleratorConnector::AutocastScope::~AutocastScope() {
  if (enabled_) compat::set_autocast(device_type_, false, at::kBFloat16);
}

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);  // seeds the CPU generator and every CUDA generator
}

}  // namespace trainer::accelerator
