// IDX reader: valid files, gzip, and each kind of broken file.

#include "core/errors.h"
#include "data/idx.h"
#include "idx_fixture.h"

// After LibTorch's headers: glog (pulled in by c10) defines its own CHECK, which doctest's must replace.
#include <doctest/doctest.h>

namespace trainer::data {
namespace {

using testing::idx_bytes;
using testing::TempDir;
using testing::write_bytes;

TEST_CASE("idx reads plain and gzip files alike") {
  TempDir dir;
  const std::vector<uint8_t> bytes = idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6});
  for (const bool gzip : {false, true}) {
    const std::string path = (dir.path() / (gzip ? "a.gz" : "a")).string();
    write_bytes(path, bytes, gzip);
    const IdxArray array = read_idx(path);
    CHECK(array.dims == std::vector<int64_t>{2, 3});
    CHECK(array.values == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  }
}

TEST_CASE("idx truncated data is a clear error") {
  std::vector<uint8_t> bytes = idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6});
  bytes.resize(bytes.size() - 2);
  CHECK_THROWS_WITH_AS(parse_idx(bytes, "x.idx"),
                       "IDX file 'x.idx' is truncated: its header declares 6 values but only 4 follow", DataError);
}

TEST_CASE("idx truncated gzip stream is a clear error") {
  TempDir dir;
  const std::string whole = (dir.path() / "whole.gz").string();
  write_bytes(whole, idx_bytes({1000}, std::vector<uint8_t>(1000, 7)), true);
  std::string bytes = testing::read_text(whole);
  const std::string cut = dir.write("cut.gz", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(read_idx(cut), DataError);
  try {
    read_idx(cut);
  } catch (const DataError& error) {
    CHECK(std::string(error.what()).find("cut.gz") != std::string::npos);
    CHECK(std::string(error.what()).find("truncated") != std::string::npos);
  }
}

TEST_CASE("idx bad magic and type are rejected") {
  CHECK_THROWS_WITH_AS(parse_idx({1, 0, 8, 1, 0, 0, 0, 0}, "x"),
                       "IDX file 'x' has a bad magic number (first two bytes must be zero); is it an IDX file?",
                       DataError);
  CHECK_THROWS_WITH_AS(parse_idx({0, 0, 0x0D, 1, 0, 0, 0, 0}, "x"),
                       "IDX file 'x' has element type code 13; only unsigned bytes (0x08) are supported", DataError);
  CHECK_THROWS_WITH_AS(parse_idx({0, 0}, "x"), "IDX file 'x' is truncated: 2 bytes, too short for the header",
                       DataError);
}

TEST_CASE("idx trailing bytes are rejected") {
  std::vector<uint8_t> bytes = idx_bytes({2}, {1, 2});
  bytes.push_back(9);
  CHECK_THROWS_WITH_AS(parse_idx(bytes, "x"), "IDX file 'x' has 1 unexpected bytes after the 2 declared values",
                       DataError);
}

TEST_CASE("idx missing file names the path") {
  CHECK_THROWS_WITH_AS(read_idx("/nonexistent/file"), "cannot open IDX file '/nonexistent/file'", DataError);
}

}  // namespace
}  // namespace trainer::data
