// NPY files: each supported dtype, memory mapping, datasets built from them, and
// every kind of file the reader must reject.

#include <ATen/Functions.h>

#include <cstring>

#include "core/errors.h"
#include "data/data_connector.h"
#include "data/npy_file.h"
#include "settings_fixture.h"
#include "test_util.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::data {
namespace {

using testing::TempDir;

/// Returns .npy version 1.0 bytes as np.save writes them: magic, header dict padded
/// with spaces to a multiple of 64 bytes and ending in a newline, then `data`.
std::string npy_bytes(const std::string& descr, const std::string& shape, const std::string& data,
                      const std::string& fortran = "False") {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  const size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  return bytes + header + data;
}

template <class T>
std::string raw(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const DataError& error) {
    return error.what();
  }
  return "no DataError";
}

DataConnector npy_data(const std::string& init_args) {
  const auto settings = testing::settings_from_yaml("model:\n  class_path: mlp\ndata:\n  class_path: npy\n  init_args:\n" +
                                                    init_args);
  return DataConnector(settings.data, 0);
}

TEST_CASE("npy reads every supported dtype") {
  TempDir dir;
  const at::Tensor f32 = read_npy(dir.write("f4.npy", npy_bytes("<f4", "(2, 3)", raw<float>({1, 2, 3, 4, 5, 6.5f}))));
  CHECK((f32.scalar_type() == at::kFloat));
  CHECK((f32.sizes() == at::IntArrayRef{2, 3}));
  CHECK(f32[1][2].item<float>() == 6.5f);

  const at::Tensor f64 = read_npy(dir.write("f8.npy", npy_bytes("<f8", "(2,)", raw<double>({0.25, -1}))));
  CHECK((f64.scalar_type() == at::kDouble));
  CHECK(f64[0].item<double>() == 0.25);

  const at::Tensor i64 = read_npy(dir.write("i8.npy", npy_bytes("<i8", "(3,)", raw<int64_t>({7, -2, 1LL << 40}))));
  CHECK((i64.scalar_type() == at::kLong));
  CHECK(i64[2].item<int64_t>() == (1LL << 40));

  const at::Tensor u8 = read_npy(dir.write("u1.npy", npy_bytes("|u1", "(2, 2, 1)", std::string("\x01\x02\x03\xff", 4))));
  CHECK((u8.scalar_type() == at::kByte));
  CHECK((u8.sizes() == at::IntArrayRef{2, 2, 1}));
  CHECK(u8[1][1][0].item<int64_t>() == 255);
}

TEST_CASE("npy version 2 headers are read") {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
  header += std::string((64 - (12 + header.size() + 1) % 64) % 64, ' ') + "\n";
  std::string bytes = std::string("\x93NUMPY\x02\x00", 8);
  const auto length = static_cast<uint32_t>(header.size());
  bytes += std::string(reinterpret_cast<const char*>(&length), 4) + header + raw<float>({3.0f});
  TempDir dir;
  CHECK(read_npy(dir.write("v2.npy", bytes)).item<float>() == 3.0f);
}

TEST_CASE("npy tensors outlive the reader and keep the file unchanged") {
  TempDir dir;
  const std::string path = dir.write("m.npy", npy_bytes("<f4", "(4,)", raw<float>({1, 2, 3, 4})));
  at::Tensor values = read_npy(path);
  // The mapping is copy-on-write: writing the tensor never writes the file.
  values.add_(10);
  CHECK(values[0].item<float>() == 11.0f);
  CHECK(read_npy(path)[0].item<float>() == 1.0f);
}

TEST_CASE("npy rejects unsupported and broken files") {
  TempDir dir;
  const std::string i4 = dir.write("i4.npy", npy_bytes("<i4", "(1,)", raw<int32_t>({1})));
  CHECK(error_of([&] { read_npy(i4); }) ==
        "NPY file '" + i4 + "' contains dtype '<i4'; supported are float32 '<f4', float64 '<f8', int64 '<i8' and "
        "uint8 '|u1': convert it in NumPy, e.g. np.save(path, array.astype(np.float32))");

  const std::string big = dir.write("big.npy", npy_bytes(">f4", "(1,)", raw<float>({1})));
  CHECK(error_of([&] { read_npy(big); }).find("contains dtype '>f4' (big-endian)") != std::string::npos);

  const std::string fortran = dir.write("fortran.npy", npy_bytes("<f4", "(1, 1)", raw<float>({1}), "True"));
  CHECK(error_of([&] { read_npy(fortran); }) ==
        "NPY file '" + fortran + "' is in Fortran order; save a C-order copy with "
        "np.save(path, np.ascontiguousarray(array))");

  const std::string truncated = dir.write("cut.npy", npy_bytes("<f4", "(3,)", raw<float>({1, 2})));
  CHECK(error_of([&] { read_npy(truncated); }) ==
        "NPY file '" + truncated + "' is truncated: its header declares 12 bytes of data but only 8 follow");

  const std::string trailing = dir.write("long.npy", npy_bytes("<f4", "(1,)", raw<float>({1, 2})));
  CHECK(error_of([&] { read_npy(trailing); }) == "NPY file '" + trailing + "' has 4 unexpected bytes after its data");

  const std::string not_npy = dir.write("x.npy", "PK\x03\x04 a zip file, as np.savez writes");
  CHECK(error_of([&] { read_npy(not_npy); }) ==
        "NPY file '" + not_npy + "' does not start with the NumPy magic string; is it a .npy file written by np.save?");

  const std::string cut_header = dir.write("h.npy", npy_bytes("<f4", "(1,)", "").substr(0, 20));
  CHECK(error_of([&] { read_npy(cut_header); }) == "NPY file '" + cut_header + "' is truncated inside its header");

  CHECK(error_of([&] { read_npy(dir.path().string() + "/absent.npy"); })
            .rfind("cannot open NPY file '" + dir.path().string() + "/absent.npy'", 0) == 0);
}

TEST_CASE("npy dataset for classification of byte images") {
  TempDir dir;
  std::vector<uint8_t> pixels(20 * 1 * 2 * 2);
  std::vector<int64_t> labels(20);
  for (int i = 0; i < 20; ++i) {
    std::fill_n(pixels.begin() + i * 4, 4, static_cast<uint8_t>(51 * (i % 3)));
    labels[static_cast<size_t>(i)] = i % 3;
  }
  const std::string inputs = dir.write("x.npy", npy_bytes("|u1", "(20, 1, 2, 2)", raw(pixels)));
  const std::string targets = dir.write("y.npy", npy_bytes("<i8", "(20,)", raw(labels)));
  DataConnector data = npy_data("    inputs: " + inputs + "\n    targets: " + targets +
                                "\n    val_size: 5\n    batch_size: 4\n");
  CHECK(data.spec().task == Task::classification);
  CHECK(data.spec().num_outputs == 3);
  CHECK(data.spec().input_shape == std::vector<int64_t>{1, 2, 2});
  CHECK(data.train_loader().num_samples() == 15);
  CHECK(data.val_loader().num_samples() == 5);

  // Bytes are scaled to [0, 1]: class 2 images are 102 / 255 = 0.4.
  const Batch batch = data.val_loader().batch(0);
  CHECK((batch.inputs.scalar_type() == at::kFloat));
  for (int64_t i = 0; i < batch.size(); ++i) {
    CHECK(batch.inputs[i].mean().item<double>() ==
          doctest::Approx(0.2 * static_cast<double>(batch.targets[i].item<int64_t>())));
  }
}

TEST_CASE("npy dataset for regression with explicit splits") {
  TempDir dir;
  const std::string x = dir.write("x.npy", npy_bytes("<f8", "(4, 2)", raw<double>({1, 2, 3, 4, 5, 6, 7, 8})));
  const std::string y = dir.write("y.npy", npy_bytes("<f4", "(4,)", raw<float>({0.5, 1.5, 2.5, 3.5})));
  const std::string vx = dir.write("vx.npy", npy_bytes("<f8", "(1, 2)", raw<double>({9, 10})));
  const std::string vy = dir.write("vy.npy", npy_bytes("<f4", "(1,)", raw<float>({4.5})));
  DataConnector data = npy_data("    inputs: " + x + "\n    targets: " + y + "\n    val_inputs: " + vx +
                                "\n    val_targets: " + vy + "\n    task: regression\n    standardize: true\n");
  CHECK(data.spec().task == Task::regression);
  CHECK(data.spec().num_outputs == 1);
  CHECK(data.train_loader().num_samples() == 4);
  const Batch val = data.val_loader().batch(0);
  CHECK((val.targets.sizes() == at::IntArrayRef{1, 1}));
  CHECK(val.targets[0][0].item<float>() == 4.5f);
  // Standardised with the training mean (4, 5) and standard deviation (sqrt 5 for both).
  CHECK(val.inputs[0][0].item<double>() == doctest::Approx(5.0 / std::sqrt(5.0)).epsilon(1e-5));
}

TEST_CASE("npy dataset rejects mismatched files") {
  TempDir dir;
  const std::string x = dir.write("x.npy", npy_bytes("<f4", "(3, 1)", raw<float>({1, 2, 3})));
  const std::string y2 = dir.write("y2.npy", npy_bytes("<i8", "(2,)", raw<int64_t>({0, 1})));
  const std::string yf = dir.write("yf.npy", npy_bytes("<f4", "(3,)", raw<float>({0, 1, 0})));
  const std::string yneg = dir.write("yn.npy", npy_bytes("<i8", "(3,)", raw<int64_t>({0, -1, 0})));
  CHECK(error_of([&] { npy_data("    inputs: " + x + "\n    targets: " + y2 + "\n"); }) ==
        "'" + x + "' has 3 samples but '" + y2 + "' has 2 targets");
  CHECK(error_of([&] { npy_data("    inputs: " + x + "\n    targets: " + yf + "\n"); }) ==
        "'" + yf + "' contains floating-point targets, but classification needs class indices (int64 or uint8); "
        "convert them, or set data.init_args.task: regression");
  CHECK(error_of([&] { npy_data("    inputs: " + x + "\n    targets: " + yneg + "\n"); }) ==
        "'" + yneg + "' contains the negative class index -1; class indices start at 0");
  CHECK(error_of([&] { npy_data("    inputs: " + x + "\n    targets: " + y2 + "\n    val_inputs: " + x + "\n"); }) ==
        "data.init_args.val_inputs and val_targets must be given together");
}

}  // namespace
}  // namespace trainer::data
