// libFuzzer target for the CSV reader: arbitrary bytes as a CSV file with each header
// style. Only DataError may come out.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/errors.h"
#include "data/csv_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // read_csv takes a path; one scratch file per fuzzing process.
  static const std::string path = "/tmp/trainer-csv-fuzz-" + std::to_string(::getpid()) + ".csv";
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  using trainer::data::CsvHeader;
  for (CsvHeader header : {CsvHeader::auto_detect, CsvHeader::names, CsvHeader::sklearn, CsvHeader::none}) {
    try {
      const trainer::data::CsvTable table = trainer::data::read_csv(path, ',', header);
      for (const auto& row : table.rows) {
        if (row.size() != table.columns.size()) __builtin_trap();  // every row has every column
      }
    } catch (const trainer::DataError&) {
    }
  }
  return 0;
}
