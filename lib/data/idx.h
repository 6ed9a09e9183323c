#pragma once
/// Reader for the IDX format of MNIST and Fashion-MNIST, gzipped or plain.

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::data {

/// An unsigned-byte IDX array: `dims` in file order, `values` row-major.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;
};

/// Reads an IDX file of unsigned bytes (type code 0x08). gzip is detected by content.
/// Throws DataError naming the file for a bad magic number, an unsupported type,
/// a truncated file or trailing bytes.
IdxArray read_idx(const std::string& path);

/// Parses IDX bytes already in memory; `source` names them in errors.
IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& source);

}  // namespace trainer::data
