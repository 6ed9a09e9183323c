// libFuzzer target for the IDX reader (MNIST files): arbitrary bytes must parse or
// raise DataError, never crash or read out of bounds.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/errors.h"
#include "data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const trainer::data::IdxArray array = trainer::data::parse_idx(std::vector<uint8_t>(data, data + size), "fuzz");
    size_t count = 1;
    for (int64_t dim : array.dims) count *= static_cast<size_t>(dim);
    if (count != array.values.size()) __builtin_trap();  // the contract: dims describe the values exactly
  } catch (const trainer::DataError&) {
  }
  return 0;
}
