// AcceleratorConnector: device resolution, precision and threads, without a Trainer.

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "accelerator/accelerator_connector.h"
#include "core/errors.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::accelerator {
namespace {

TEST_CASE("accelerator cpu with explicit threads") {
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.num_threads = 1;
  AcceleratorConnector connector(settings);
  CHECK(connector.device().is_cpu());
  CHECK((connector.dtype() == at::kFloat));
  CHECK_FALSE(connector.mixed_precision());
  CHECK(at::get_num_threads() == 1);
  CHECK(connector.describe() == "device=cpu threads=1 precision=32");
}

TEST_CASE("accelerator auto picks cuda only when present") {
  config::AcceleratorSettings settings;
  AcceleratorConnector connector(settings);
  CHECK(connector.device().is_cuda() == torch::cuda::is_available());
}

TEST_CASE("accelerator cuda without a gpu is a device error") {
  if (torch::cuda::is_available()) {
    MESSAGE("skipped: this machine has a CUDA device");
    return;
  }
  for (const char* name : {"cuda", "gpu"}) {
    config::AcceleratorSettings settings;
    settings.accelerator = name;
    CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                         ("trainer.accelerator is '" + std::string(name) +
                          "' but LibTorch found no CUDA device (CUDA devices visible: 0); use "
                          "--trainer.accelerator=cpu")
                             .c_str(),
                         DeviceError);
  }
}

TEST_CASE("accelerator precision 64 and bf16-mixed") {
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.precision = "64";
  CHECK((AcceleratorConnector(settings).dtype() == at::kDouble));
  settings.precision = "bf16-mixed";
  AcceleratorConnector mixed(settings);
  CHECK((mixed.dtype() == at::kFloat));
  CHECK(mixed.mixed_precision());
}

TEST_CASE("accelerator rejects several devices") {
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.devices = "2";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices is 2 but this version trains on one device per process; set "
                       "--trainer.devices=1",
                       DeviceError);
  settings.devices = "two";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices must be a positive integer or 'auto', got 'two'", UsageError);
}

}  // namespace
}  // namespace trainer::accelerator
