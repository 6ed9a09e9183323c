#pragma once
/// The byte formats under TensorBoard's event files, written by hand so that no
/// protobuf or TensorFlow library is needed: protobuf wire encoding, CRC-32C and
/// TFRecord framing.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace trainer::logging {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses; zlib's crc32
/// is a different polynomial. crc32c("123456789") is 0xE3069283.
uint32_t crc32c(std::string_view data);

/// TFRecord's masked CRC: the CRC rotated right by 15 bits plus 0xa282ead8, so that a
/// CRC of data that contains CRCs does not collide.
uint32_t masked_crc32c(std::string_view data);

/// One protobuf message in wire format, built field by field.
class ProtoWriter {
 public:
  void add_varint(int field, uint64_t value);
  void add_double(int field, double value);
  void add_float(int field, float value);
  /// A length-delimited field: a string, bytes or an embedded message's bytes.
  void add_bytes(int field, std::string_view bytes);

  const std::string& bytes() const { return bytes_; }

 private:
  void put_varint(uint64_t value);
  void put_fixed(uint64_t bits, int num_bytes);

  std::string bytes_;
};

/// Appends TFRecord records to a file: length (uint64, little-endian), masked CRC of the
/// length, data, masked CRC of the data. Each record is flushed, so a killed run keeps it.
class TfRecordWriter {
 public:
  /// Creates (or truncates) the file at `path`; throws std::runtime_error when that fails.
  explicit TfRecordWriter(std::string path);
  ~TfRecordWriter();
  TfRecordWriter(const TfRecordWriter&) = delete;
  TfRecordWriter& operator=(const TfRecordWriter&) = delete;

  void write(std::string_view data);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace trainer::logging
