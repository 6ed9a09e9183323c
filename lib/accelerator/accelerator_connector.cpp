#include "accelerator/accelerator_connector.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/utils.h>
#include <torch/utils.h>

#include <charconv>
#include <thread>

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
  if (devices > 1) {
    // NOTE: one process trains on one device until distributed data parallel lands.
    throw DeviceError("trainer.devices is " + settings.devices +
                      " but this version trains on one device per process; set --trainer.devices=1");
  }

  if (settings.precision == "64" || settings.precision == "64-true") {
    dtype_ = at::kDouble;
  } else if (settings.precision == "bf16-mixed") {
    mixed_ = true;
  }

  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  num_threads_ = settings.num_threads > 0 ? static_cast<int>(settings.num_threads) : static_cast<int>(hardware);
  at::set_num_threads(num_threads_);

  if (settings.deterministic) {
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
  }
}

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
  return "device=" + device_.str() + " threads=" + std::to_string(num_threads_) + " precision=" + precision_;
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
