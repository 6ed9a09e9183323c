// Test helper: runs a checkpoint's model (rebuilt from the config saved in it) on
// inputs read from a raw file, so end-to-end tests can compare C++ outputs with Python's.
//
// Usage: checkpoint_forward CKPT float32|int64 INPUT OUTPUT DIM...
// INPUT contains the inputs as raw native-endian values of that type, shaped DIM...
// OUTPUT receives the model's outputs as raw float32 values.

#include <ATen/Functions.h>
#include <torch/utils.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "app/commands.h"
#include "core/atomic_file.h"
#include "models/model.h"

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: checkpoint_forward CKPT float32|int64 INPUT OUTPUT DIM...\n";
    return 2;
  }
  const std::string dtype_name = argv[2];
  const at::ScalarType dtype = dtype_name == "int64" ? at::kLong : at::kFloat;
  std::vector<int64_t> shape;
  for (int i = 5; i < argc; ++i) shape.push_back(std::atoll(argv[i]));

  try {
    const trainer::app::CheckpointModel loaded = trainer::app::load_checkpoint_model({}, argv[1]);
    std::string bytes = trainer::read_file(argv[3]);
    const at::Tensor inputs = at::from_blob(bytes.data(), shape, dtype).clone();

    torch::NoGradGuard no_grad;
    const at::Tensor outputs = loaded.model->forward(inputs).to(at::kFloat).contiguous();
    std::ofstream(argv[4], std::ios::binary)
        .write(static_cast<const char*>(outputs.data_ptr()), static_cast<std::streamsize>(outputs.nbytes()));
    std::cout << outputs.sizes() << std::endl;
  } catch (const std::exception& error) {
    std::cerr << "checkpoint_forward: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}
