// AcceleratorConnector: device resolution, precision and threads, without a Trainer.

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <initializer_list>
#include <utility>

#include "accelerator/accelerator_connector.h"
#include "accelerator/distributed.h"
#include "core/errors.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::accelerator {
namespace {

/// Sets the launcher variables for one test case and clears every one of them after it.
class LauncherEnv {
 public:
  explicit LauncherEnv(std::initializer_list<std::pair<const char*, const char*>> values) {
    clear();
    for (const auto& [name, value] : values) ::setenv(name, value, 1);
  }
  ~LauncherEnv() { clear(); }

 private:
  static void clear() {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                             "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_JOB_NODELIST"}) {
      ::unsetenv(name);
    }
  }
};

TEST_CASE("distributed env absent without a launcher") {
  LauncherEnv env({});
  CHECK_FALSE(read_distributed_env().has_value());
}

TEST_CASE("distributed env from torchrun variables") {
  LauncherEnv env({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node0"},
                   {"MASTER_PORT", "29400"}});
  const auto read = read_distributed_env();
  REQUIRE(read.has_value());
  CHECK(read->source == "torchrun");
  CHECK(read->rank == 3);
  CHECK(read->world_size == 4);
  CHECK(read->local_rank == 1);
  CHECK(read->master_addr == "node0");
  CHECK(read->master_port == 29400);
}

TEST_CASE("distributed env from slurm variables") {
  LauncherEnv env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                   {"SLURM_JOB_NODELIST", "gpu[07-10],cpu01"}});
  const auto read = read_distributed_env();
  REQUIRE(read.has_value());
  CHECK(read->source == "slurm");
  CHECK(read->rank == 5);
  CHECK(read->world_size == 8);
  CHECK(read->local_rank == 1);
  CHECK(read->master_addr == "gpu07");
  CHECK(read->master_port == 29500);
}

TEST_CASE("distributed env rejects invalid values") {
  {
    LauncherEnv env({{"RANK", "2"}, {"WORLD_SIZE", "2"}});
    CHECK_THROWS_AS(read_distributed_env(), DeviceError);
  }
  {
    LauncherEnv env({{"RANK", "x"}, {"WORLD_SIZE", "2"}});
    CHECK_THROWS_WITH_AS(read_distributed_env(), "environment variable RANK='x' is not an integer", DeviceError);
  }
  {
    LauncherEnv env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}});
    CHECK_THROWS_AS(read_distributed_env(), DeviceError);
  }
}

TEST_CASE("accelerator ddp without a launcher is one process") {
  LauncherEnv env({});
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.devices = "2";
  settings.strategy = "ddp";
  settings.num_threads = 1;
  AcceleratorConnector connector(settings);
  CHECK(connector.rank() == 0);
  CHECK(connector.world_size() == 1);
  CHECK(connector.process_group() == nullptr);
  CHECK(requested_processes(settings) == 2);
  settings.strategy = "auto";
  CHECK(requested_processes(settings) == 1);
}

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

TEST_CASE("accelerator rejects several devices without ddp") {
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.devices = "2";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices is 2 but strategy 'auto' trains on one device in one process; set "
                       "--trainer.strategy=ddp or --trainer.devices=1",
                       DeviceError);
  settings.devices = "two";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices must be a positive integer or 'auto', got 'two'", UsageError);
}

}  // namespace
}  // namespace trainer::accelerator
