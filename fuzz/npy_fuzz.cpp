// libFuzzer target for the .npy header parser: arbitrary bytes must parse or raise
// DataError. The parsed header must fit in the input.

#include <cstddef>
#include <cstdint>

#include "core/errors.h"
#include "data/npy_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const trainer::data::NpyHeader header = trainer::data::parse_npy_header(data, size, "fuzz.npy");
    if (header.data_offset > size) __builtin_trap();
  } catch (const trainer::DataError&) {
  }
  return 0;
}
