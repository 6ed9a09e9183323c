#include "data/npy_file.h"

#include <ATen/Functions.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "core/errors.h"

namespace trainer::data {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

/// Returns the text after `'key':` in a header dict, with leading spaces removed.
std::string value_after(const std::string& header, const std::string& key, const std::string& source) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) {
    throw DataError("NPY file '" + source + "' header has no '" + key + "' entry: " + header);
  }
  const size_t colon = header.find(':', at);
  const size_t begin = colon == std::string::npos ? colon : header.find_first_not_of(' ', colon + 1);
  if (begin == std::string::npos) {
    throw DataError("NPY file '" + source + "' header has no value for '" + key + "': " + header);
  }
  return header.substr(begin);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& source) {
  if (text.empty() || text[0] != '(') throw DataError("NPY file '" + source + "' has an unreadable shape: " + text);
  const size_t close = text.find(')');
  if (close == std::string::npos) throw DataError("NPY file '" + source + "' has an unreadable shape: " + text);
  std::vector<int64_t> shape;
  std::string number;
  for (size_t i = 1; i <= close; ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      number += c;
    } else if (c == ',' || c == ')') {
      if (number.size() > 18) {
        throw DataError("NPY file '" + source + "' has a shape dimension out of range: " + number);
      }
      if (!number.empty()) shape.push_back(std::stoll(number));
      number.clear();
    } else if (c != ' ' && c != 'L') {
      throw DataError("NPY file '" + source + "' has an unreadable shape: " + text.substr(0, close + 1));
    }
  }
  return shape;
}

struct DtypeInfo {
  at::ScalarType type;
  size_t item_size;
};

DtypeInfo dtype_of(const std::string& descr, const std::string& source) {
  if (descr == "<f4") return {at::kFloat, 4};
  if (descr == "<f8") return {at::kDouble, 8};
  if (descr == "<i8") return {at::kLong, 8};
  if (descr == "|u1" || descr == "<u1") return {at::kByte, 1};
  const bool big_endian = !descr.empty() && descr[0] == '>';
  throw DataError("NPY file '" + source + "' contains dtype '" + descr + "'" +
                  (big_endian ? " (big-endian)" : "") +
                  "; supported are float32 '<f4', float64 '<f8', int64 '<i8' and uint8 '|u1': convert it in "
                  "NumPy, e.g. np.save(path, array.astype(np.float32))");
}

/// A read-only file mapped copy-on-write; unmapped when the last tensor using it goes.
struct Mapping {
  void* address = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (address != MAP_FAILED) ::munmap(address, size);
  }
};

}  // namespace

NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& source) {
  const std::string where = "NPY file '" + source + "'";
  if (size < kMagicSize + 4 || std::memcmp(bytes, kMagic, kMagicSize) != 0) {
    throw DataError(where + " does not start with the NumPy magic string; is it a .npy file written by np.save?");
  }
  const uint8_t major = bytes[6];
  size_t header_length = 0;
  size_t prefix = 0;
  if (major == 1) {
    header_length = bytes[8] | (size_t{bytes[9]} << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw DataError(where + " is truncated inside its header");
    header_length = bytes[8] | (size_t{bytes[9]} << 8) | (size_t{bytes[10]} << 16) | (size_t{bytes[11]} << 24);
    prefix = 12;
  } else {
    throw DataError(where + " has format version " + std::to_string(major) + "; supported are 1, 2 and 3");
  }
  if (size < prefix + header_length) throw DataError(where + " is truncated inside its header");

  const std::string header(reinterpret_cast<const char*>(bytes) + prefix, header_length);
  NpyHeader result;
  const std::string descr = value_after(header, "descr", source);
  const size_t quote_end = descr.find('\'', 1);
  if (descr.empty() || descr[0] != '\'' || quote_end == std::string::npos) {
    throw DataError(where + " has an unreadable 'descr' entry (structured arrays are not supported): " + header);
  }
  result.descr = descr.substr(1, quote_end - 1);
  result.fortran_order = value_after(header, "fortran_order", source).rfind("True", 0) == 0;
  result.shape = parse_shape(value_after(header, "shape", source), source);
  result.data_offset = prefix + header_length;
  return result;
}

at::Tensor read_npy(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw DataError("cannot open NPY file '" + path + "': " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || info.st_size == 0) {
    ::close(fd);
    throw DataError("NPY file '" + path + "' is empty or unreadable");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(info.st_size);
  mapping->address = ::mmap(nullptr, mapping->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->address == MAP_FAILED) throw DataError("cannot map NPY file '" + path + "': " + std::strerror(errno));

  const auto* bytes = static_cast<const uint8_t*>(mapping->address);
  const NpyHeader header = parse_npy_header(bytes, mapping->size, path);
  if (header.fortran_order) {
    throw DataError("NPY file '" + path + "' is in Fortran order; save a C-order copy with "
                    "np.save(path, np.ascontiguousarray(array))");
  }
  const DtypeInfo dtype = dtype_of(header.descr, path);
  if (header.shape.empty()) throw DataError("NPY file '" + path + "' contains a scalar; expected one row per sample");

  size_t count = 1;
  for (int64_t dim : header.shape) count *= static_cast<size_t>(dim);
  const size_t expected = count * dtype.item_size;
  const size_t available = mapping->size - header.data_offset;
  if (available < expected) {
    throw DataError("NPY file '" + path + "' is truncated: its header declares " + std::to_string(expected) +
                    " bytes of data but only " + std::to_string(available) + " follow");
  }
  if (available > expected) {
    throw DataError("NPY file '" + path + "' has " + std::to_string(available - expected) +
                    " unexpected bytes after its data");
  }

  void* data = static_cast<uint8_t*>(mapping->address) + header.data_offset;
  const auto options = at::TensorOptions().dtype(dtype.type);
  if (header.data_offset % dtype.item_size != 0) {
    return at::from_blob(data, header.shape, options).clone();
  }
  return at::from_blob(data, header.shape, [mapping](void*) {}, options);
}

}  // namespace trainer::data
