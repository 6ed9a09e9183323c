#pragma once
// Writes small IDX files (the MNIST format) so data tests need no downloaded dataset.

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_util.h"

namespace trainer::testing {

/// Returns IDX bytes for unsigned-byte data with the given dimensions.
inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& values) {
  std::vector<uint8_t> bytes{0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t dim : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(dim >> shift));
  }
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
  }
}

/// Writes an MNIST-style dataset into `dir`: `train` and `test` images of 28x28 whose
/// pixels all equal 20 × label, labels cycling 0..9, so a model can learn it quickly.
inline void write_tiny_mnist(const TempDir& dir, uint32_t train, uint32_t test, bool gzip = true) {
  for (const auto& [prefix, count] : {std::pair<std::string, uint32_t>{"train", train}, {"t10k", test}}) {
    std::vector<uint8_t> labels(count);
    std::vector<uint8_t> pixels(static_cast<size_t>(count) * 28 * 28);
    for (uint32_t i = 0; i < count; ++i) {
      labels[i] = static_cast<uint8_t>(i % 10);
      std::fill_n(pixels.begin() + static_cast<std::ptrdiff_t>(i) * 784, 784, static_cast<uint8_t>(20 * (i % 10)));
    }
    const std::string suffix = gzip ? ".gz" : "";
    write_bytes((dir.path() / (prefix + "-images-idx3-ubyte" + suffix)).string(), idx_bytes({count, 28, 28}, pixels),
                gzip);
    write_bytes((dir.path() / (prefix + "-labels-idx1-ubyte" + suffix)).string(), idx_bytes({count}, labels), gzip);
  }
}

}  // namespace trainer::testing
