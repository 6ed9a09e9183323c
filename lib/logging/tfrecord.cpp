#include "logging/tfrecord.h"

#include <array>
#include <cstring>
#include <stdexcept>

namespace trainer::logging {
namespace {

std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    table[byte] = crc;
  }
  return table;
}

/// Returns `value`'s bytes in little-endian order, as TFRecord and protobuf store fixed-width numbers.
std::string little_endian(uint64_t value, int num_bytes) {
  std::string bytes;
  for (int i = 0; i < num_bytes; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xFF);
  return bytes;
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  uint32_t crc = 0xFFFFFFFFu;
  for (const char c : data) crc = table[(crc ^ static_cast<uint8_t>(c)) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view data) {
  const uint32_t crc = crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

void ProtoWriter::put_varint(uint64_t value) {
  while (value >= 0x80) {
    bytes_ += static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  bytes_ += static_cast<char>(value);
}

void ProtoWriter::put_fixed(uint64_t bits, int num_bytes) { bytes_ += little_endian(bits, num_bytes); }

// A field key is (field number << 3) | wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
void ProtoWriter::add_varint(int field, uint64_t value) {
  put_varint(static_cast<uint64_t>(field) << 3 | 0);
  put_varint(value);
}

void ProtoWriter::add_double(int field, double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  put_varint(static_cast<uint64_t>(field) << 3 | 1);
  put_fixed(bits, 8);
}

void ProtoWriter::add_float(int field, float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  put_varint(static_cast<uint64_t>(field) << 3 | 5);
  put_fixed(bits, 4);
}

void ProtoWriter::add_bytes(int field, std::string_view bytes) {
  put_varint(static_cast<uint64_t>(field) << 3 | 2);
  put_varint(bytes.size());
  bytes_.append(bytes.data(), bytes.size());
}

TfRecordWriter::TfRecordWriter(std::string path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) throw std::runtime_error("cannot create event file '" + path_ + "'");
}

TfRecordWriter::~TfRecordWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TfRecordWriter::write(std::string_view data) {
  const std::string length = little_endian(data.size(), 8);
  std::string record = length;
  record += little_endian(masked_crc32c(length), 4);
  record.append(data.data(), data.size());
  record += little_endian(masked_crc32c(data), 4);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() || std::fflush(file_) != 0) {
    throw std::runtime_error("cannot write event file '" + path_ + "'");
  }
}

}  // namespace trainer::logging
