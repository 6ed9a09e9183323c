// AcceleratorConnector: device resolution, precision and threads, without a Trainer.

#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <chrono>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

#include "accelerator/accelerator_connector.h"
#include "accelerator/distributed.h"
#include "accelerator/precision.h"
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
                          "' but LibTorch sees 0 CUDA devices (a CPU-only LibTorch build, no GPU, or "
                          "CUDA_VISIBLE_DEVICES hides them); use --trainer.accelerator=cpu")
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
  CHECK((mixed.autocast_dtype() == at::kBFloat16));
  CHECK_FALSE(mixed.needs_grad_scaler());
  CHECK_FALSE(mixed.make_grad_scaler().enabled());
}

TEST_CASE("precision policy of every choice") {
  struct Case {
    const char* precision;
    c10::DeviceType device_type;
    at::ScalarType dtype;
    bool autocast;
    at::ScalarType autocast_dtype;
    bool grad_scaler;
  };
  const Case cases[] = {
      {"32", c10::kCPU, at::kFloat, false, at::kBFloat16, false},
      {"32-true", c10::kCUDA, at::kFloat, false, at::kBFloat16, false},
      {"64", c10::kCPU, at::kDouble, false, at::kBFloat16, false},
      {"64-true", c10::kCUDA, at::kDouble, false, at::kBFloat16, false},
      {"bf16-true", c10::kCPU, at::kBFloat16, false, at::kBFloat16, false},
      {"bf16-mixed", c10::kCPU, at::kFloat, true, at::kBFloat16, false},
      {"bf16-mixed", c10::kCUDA, at::kFloat, true, at::kBFloat16, false},
      {"16-mixed", c10::kCUDA, at::kFloat, true, at::kHalf, true},
  };
  for (const Case& expected : cases) {
    CAPTURE(expected.precision);
    CAPTURE(c10::DeviceTypeName(expected.device_type));
    const PrecisionPolicy policy = resolve_precision(expected.precision, expected.device_type);
    CHECK((policy.dtype == expected.dtype));
    CHECK(policy.autocast == expected.autocast);
    if (expected.autocast) CHECK((policy.autocast_dtype == expected.autocast_dtype));
    CHECK(policy.grad_scaler == expected.grad_scaler);
  }
  CHECK_THROWS_AS(resolve_precision("16", c10::kCPU), std::invalid_argument);
}

TEST_CASE("accelerator 16-mixed on the cpu suggests bf16-mixed") {
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.precision = "16-mixed";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.precision '16-mixed' needs a CUDA device, but this run is on 'cpu'; use "
                       "--trainer.precision=bf16-mixed for mixed precision on the CPU",
                       DeviceError);
}

TEST_CASE("accelerator deterministic sets the cuBLAS workspace") {
  ::unsetenv("CUBLAS_WORKSPACE_CONFIG");
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.deterministic = true;
  AcceleratorConnector accelerator(settings);
  const char* workspace = std::getenv("CUBLAS_WORKSPACE_CONFIG");
  REQUIRE(workspace != nullptr);
  CHECK(std::string(workspace) == ":4096:8");
  CHECK(at::globalContext().deterministicAlgorithms());
  at::globalContext().setDeterministicAlgorithms(false, false);
  ::unsetenv("CUBLAS_WORKSPACE_CONFIG");
}

TEST_CASE("accelerator bf16-true trains an MLP on the cpu") {
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.precision = "bf16-true";
  settings.num_threads = 1;
  AcceleratorConnector connector(settings);
  CHECK((connector.dtype() == at::kBFloat16));
  CHECK_FALSE(connector.mixed_precision());
  CHECK_FALSE(connector.needs_grad_scaler());

  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(8, 32), torch::nn::ReLU(), torch::nn::Linear(32, 1));
  connector.prepare(*model);
  for (const at::Tensor& parameter : model->parameters()) CHECK((parameter.scalar_type() == at::kBFloat16));

  // Learn the sum of the inputs; the loss is computed in float32, as the task losses do.
  const at::Tensor inputs = at::randn({64, 8}).to(connector.dtype());
  const at::Tensor targets = inputs.to(at::kFloat).sum(1, /*keepdim=*/true);
  auto loss_of = [&] { return torch::nn::functional::mse_loss(model->forward(inputs).to(at::kFloat), targets); };
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05));
  const double first_loss = loss_of().item<double>();
  for (int step = 0; step < 100; ++step) {
    optimizer.zero_grad();
    at::Tensor loss = loss_of();
    loss.backward();
    optimizer.step();
  }
  for (const at::Tensor& parameter : model->parameters()) CHECK((parameter.scalar_type() == at::kBFloat16));
  const double last_loss = loss_of().item<double>();
  CAPTURE(first_loss);
  CAPTURE(last_loss);
  CHECK(last_loss < 0.2 * first_loss);
}

TEST_CASE("accelerator rejects several devices without ddp") {
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.devices = "2";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices is 2 but strategy 'auto' trains on one device in one process; set "
                       "--trainer.strategy=ddp or --trainer.devices=1",
                       UsageError);
  settings.devices = "0,1";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices lists the device ids '0,1', which select CUDA devices, but "
                       "trainer.accelerator is 'cpu'; give a number of processes such as --trainer.devices=2, or set "
                       "--trainer.accelerator=cuda",
                       UsageError);
  settings.devices = "two";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices: invalid value 'two'; give 'auto', a positive number of devices such as 2, "
                       "or a list of device ids such as [0, 1] (0,1 on the command line)",
                       UsageError);
}

TEST_CASE("accelerator rejects device ids on the cpu") {
  LauncherEnv env({});
  config::AcceleratorSettings settings;
  settings.accelerator = "cpu";
  settings.strategy = "ddp";
  settings.devices = "1,";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices lists the device ids '1', which select CUDA devices, but "
                       "trainer.accelerator is 'cpu'; give a number of processes such as --trainer.devices=1, or set "
                       "--trainer.accelerator=cuda",
                       UsageError);
  if (torch::cuda::is_available()) {
    MESSAGE("skipped the 'auto' half: this machine has a CUDA device");
    return;
  }
  settings.accelerator = "auto";
  settings.devices = "0,1";
  CHECK_THROWS_WITH_AS(AcceleratorConnector{settings},
                       "trainer.devices lists the CUDA device ids '0,1', but LibTorch found no CUDA device, so "
                       "trainer.accelerator 'auto' chose the CPU; give a number of processes such as "
                       "--trainer.devices=2 to run on the CPU",
                       DeviceError);
}

TEST_CASE("requested processes count listed device ids") {
  config::AcceleratorSettings settings;
  settings.accelerator = "cuda";
  settings.strategy = "ddp";
  settings.devices = "2,3,5";
  CHECK(requested_processes(settings) == 3);
  settings.devices = "4,";
  CHECK(requested_processes(settings) == 1);
  settings.strategy = "auto";
  settings.devices = "2,3";
  CHECK(requested_processes(settings) == 1);
}

TEST_CASE("process group of one rank on the cpu") {
  // Port 0 makes the TCPStore pick a free port, which works because with one rank no other
  // process connects to it.
  const DistributedEnv env{0, 1, 0, "127.0.0.1", 0, "test"};
  ProcessGroup group(env, std::chrono::seconds(10));
  CHECK(group.backend() == "gloo");
  at::Tensor values = at::tensor({1.0, -2.0});
  group.all_reduce(values, logging::Reduction::sum);
  CHECK(at::equal(values, at::tensor({1.0, -2.0})));
  std::vector<at::Tensor> tensors{at::tensor({3.0})};
  group.broadcast(tensors);
  CHECK(tensors[0].item<double>() == 3.0);
  CHECK(group.broadcast_text("rank zero") == "rank zero");
  const at::Tensor rows = at::arange(6, at::kFloat).reshape({2, 3});
  const std::vector<at::Tensor> gathered = group.all_gather_rows(rows);
  REQUIRE(gathered.size() == 1);
  CHECK(at::equal(gathered[0], rows));
}

TEST_CASE("gradient reducer starts buckets during backward") {
  const DistributedEnv env{0, 1, 0, "127.0.0.1", 0, "test"};
  ProcessGroup group(env, std::chrono::seconds(10));
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 3));
  torch::nn::Linear unused(2, 2);  // in no graph: its gradient never arrives
  std::vector<at::Tensor> parameters = model->parameters();
  for (const at::Tensor& parameter : unused->parameters()) parameters.push_back(parameter);
  // A cap of 1 byte gives each parameter its own bucket.
  GradientReducer reducer(group, parameters, 1);
  REQUIRE(reducer.num_buckets() == 6);

  const at::Tensor inputs = at::randn({5, 4});
  model->forward(inputs).square().sum().backward();  // not armed: accumulates only
  reducer.arm();
  model->forward(inputs).square().sum().backward();
  // The unused parameters come first in the bucket order (last parameter first), so
  // nothing can start before finish() fills them.
  CHECK(reducer.started_buckets() == 0);
  std::vector<at::Tensor> expected;
  for (const at::Tensor& parameter : model->parameters()) expected.push_back(parameter.grad().clone());
  reducer.finish();
  // One rank: the mean is the accumulated gradient of both passes itself.
  for (size_t i = 0; i < expected.size(); ++i) CHECK(at::allclose(model->parameters()[i].grad(), expected[i]));
  for (const at::Tensor& parameter : unused->parameters()) CHECK(at::equal(parameter.grad(), at::zeros_like(parameter)));

  // Without the unused layer every bucket starts during backward.
  GradientReducer used_only(group, model->parameters(), 1);
  used_only.arm();
  model->forward(inputs).square().sum().backward();
  CHECK(used_only.started_buckets() == 4);
  used_only.finish();
}

TEST_CASE("ddp on cuda without nccl is a device error") {
  if (nccl_available()) {
    MESSAGE("skipped: this build has NCCL");
    return;
  }
  // The check comes before any CUDA call or rendezvous, so it runs on machines without a GPU.
  const DistributedEnv env{0, 2, 0, "127.0.0.1", 29500, "test"};
  CHECK_THROWS_WITH_AS(ProcessGroup(env, std::chrono::seconds(1), c10::Device(c10::kCUDA, 0)),
                       "strategy 'ddp' on CUDA device cuda:0 needs NCCL, but this build of trainer has no NCCL (it "
                       "was built against a LibTorch without CUDA, or with TRAINER_NCCL=OFF); rebuild against a CUDA "
                       "build of LibTorch, as the Dockerfile's cuda target does, or set --trainer.accelerator=cpu to "
                       "train with Gloo",
                       DeviceError);
}

TEST_CASE("cuda 16-mixed autocasts to float16") {
  if (!torch::cuda::is_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  config::AcceleratorSettings settings;
  settings.accelerator = "cuda";
  settings.precision = "16-mixed";
  AcceleratorConnector connector(settings);
  CHECK(connector.device() == c10::Device(c10::kCUDA, 0));
  CHECK(connector.needs_grad_scaler());
  CHECK(connector.make_grad_scaler().enabled());
  CHECK((connector.autocast_dtype() == at::kHalf));

  torch::nn::Linear model(4, 2);
  connector.prepare(*model);
  const at::Tensor inputs = at::randn({3, 4}, at::TensorOptions().device(connector.device()));
  at::Tensor outputs;
  {
    auto autocast = connector.autocast();
    outputs = model(inputs);
  }
  CHECK((outputs.scalar_type() == at::kHalf));
  CHECK((model(inputs).scalar_type() == at::kFloat));

  GradScaler scaler = connector.make_grad_scaler();
  scaler.scale(outputs.to(at::kFloat).sum()).backward();
  CHECK_FALSE(scaler.unscale_and_find_inf(model->parameters()));
  CHECK(model->weight.grad().is_cuda());
}

TEST_CASE("nccl process group of one rank") {
  if (!torch::cuda::is_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  if (!nccl_available()) {
    MESSAGE("skipped: this build has no NCCL");
    return;
  }
  const DistributedEnv env{0, 1, 0, "127.0.0.1", 0, "test"};
  ProcessGroup group(env, std::chrono::seconds(30), c10::Device(c10::kCUDA, 0));
  CHECK(group.backend() == "nccl");
  at::Tensor on_device = at::tensor({1.0, 2.0}, at::TensorOptions().device(c10::kCUDA));
  group.all_reduce(on_device, logging::Reduction::max);
  CHECK(at::equal(on_device.cpu(), at::tensor({1.0, 2.0})));
  at::Tensor on_host = at::tensor({5.0});
  group.all_reduce(on_host, logging::Reduction::sum);
  CHECK(on_host.is_cpu());
  CHECK(on_host.item<double>() == 5.0);
  std::vector<at::Tensor> tensors{at::tensor({3.0}), at::tensor({4.0}, at::TensorOptions().device(c10::kCUDA))};
  group.broadcast(tensors);
  CHECK(tensors[0].item<double>() == 3.0);
  CHECK(tensors[1].item<double>() == 4.0);
  const at::Tensor rows = at::arange(6, at::kFloat).reshape({2, 3});
  const std::vector<at::Tensor> gathered = group.all_gather_rows(rows);
  REQUIRE(gathered.size() == 1);
  CHECK(gathered[0].is_cpu());
  CHECK(at::equal(gathered[0], rows));
}

}  // namespace
}  // namespace trainer::accelerator
