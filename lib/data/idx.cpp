#include "data/idx.h"

#include <zlib.h>

#include "core/errors.h"

namespace trainer::data {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;

uint32_t read_big_endian(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& source) {
  const std::string where = "IDX file '" + source + "'";
  if (bytes.size() < 4) {
    throw DataError(where + " is truncated: " + std::to_string(bytes.size()) + " bytes, too short for the header");
  }
  if (bytes[0] != 0 || bytes[1] != 0) {
    throw DataError(where + " has a bad magic number (first two bytes must be zero); is it an IDX file?");
  }
  if (bytes[2] != kUnsignedByte) {
    throw DataError(where + " has element type code " + std::to_string(bytes[2]) +
                    "; only unsigned bytes (0x08) are supported");
  }
  const int ndims = bytes[3];
  if (ndims < 1 || ndims > 4) {
    throw DataError(where + " declares " + std::to_string(ndims) + " dimensions; expected 1 to 4");
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (bytes.size() < header) {
    throw DataError(where + " is truncated inside its header");
  }

  IdxArray array;
  size_t count = 1;
  bool overflow = false;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t dim = read_big_endian(bytes.data() + 4 + 4 * i);
    array.dims.push_back(dim);
    overflow = overflow || __builtin_mul_overflow(count, size_t{dim}, &count);
  }
  if (overflow) {
    std::string dims;
    for (int64_t dim : array.dims) dims += (dims.empty() ? "" : ", ") + std::to_string(dim);
    throw DataError(where + " declares dimensions [" + dims + "] whose product overflows");
  }
  const size_t available = bytes.size() - header;
  if (available < count) {
    throw DataError(where + " is truncated: its header declares " + std::to_string(count) +
                    " values but only " + std::to_string(available) + " follow");
  }
  if (available > count) {
    throw DataError(where + " has " + std::to_string(available - count) +
                    " unexpected bytes after the " + std::to_string(count) + " declared values");
  }
  array.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

IdxArray read_idx(const std::string& path) {
  // gzread passes plain files through unchanged, so one path serves .gz and raw IDX.
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw DataError("cannot open IDX file '" + path + "'");
  }
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    const int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw DataError("cannot decompress IDX file '" + path + "': " + message + " (is the file truncated?)");
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + n);
  }
  // A gzip stream cut short ends without an error from gzread on some zlib versions;
  // gzclose_r reports it as Z_BUF_ERROR.
  const int close_status = gzclose(file);
  if (close_status == Z_BUF_ERROR) {
    throw DataError("IDX file '" + path + "' is a truncated gzip stream");
  }
  return parse_idx(bytes, path);
}

}  // namespace trainer::data
