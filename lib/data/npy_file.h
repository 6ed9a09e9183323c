#pragma once
/// Reader for NumPy's .npy format (what np.save writes), memory-mapped where possible.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::data {

/// The parsed header of a .npy file.
struct NpyHeader {
  std::string descr;  ///< NumPy type string, e.g. "<f4"
  bool fortran_order = false;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  ///< bytes before the array data
};

/// Parses the magic string, version and header dict of `bytes` (at least the whole
/// header). Accepts versions 1.0, 2.0 and 3.0. Throws DataError naming `source`.
NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& source);

/// Reads a C-order array of float32 ('<f4'), float64 ('<f8'), int64 ('<i8') or
/// uint8 ('|u1') from `path`. The tensor maps the file copy-on-write instead of
/// reading it when the data is aligned for its type, which np.save guarantees.
/// Throws DataError for another type, big-endian or Fortran order, a truncated file
/// or trailing bytes.
at::Tensor read_npy(const std::string& path);

}  // namespace trainer::data
