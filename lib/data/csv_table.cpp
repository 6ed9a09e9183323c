#include "data/csv_table.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "core/errors.h"

namespace trainer::data {
namespace {

bool parse_count(const std::string& text, int64_t& value) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 15) return false;
  value = std::stoll(text);
  return true;
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

bool all_numbers(const std::vector<std::string>& fields) {
  double ignored = 0;
  for (const std::string& field : fields) {
    if (!parse_number(field, ignored)) return false;
  }
  return true;
}

/// Checks whether `first` is a sklearn header of the rows that follow; auto-detection and an
/// explicit sklearn header both use this rule.
bool looks_like_sklearn(const std::vector<std::string>& first, size_t data_rows, size_t data_width) {
  int64_t samples = 0;
  int64_t features = 0;
  if (first.size() < 2 || !parse_count(first[0], samples) || !parse_count(first[1], features)) return false;
  double ignored = 0;
  for (size_t i = 2; i < first.size(); ++i) {
    if (parse_number(first[i], ignored)) return false;  // class names are words
  }
  return static_cast<size_t>(samples) == data_rows && static_cast<size_t>(features) + 1 == data_width;
}

std::string join_fields(const std::vector<std::string>& fields, char delimiter) {
  std::string text;
  for (size_t i = 0; i < fields.size(); ++i) text += (i ? std::string(1, delimiter) : "") + fields[i];
  return text;
}

}  // namespace

CsvHeader parse_csv_header(const std::string& text) {
  if (text == "auto") return CsvHeader::auto_detect;
  if (text == "names") return CsvHeader::names;
  if (text == "sklearn") return CsvHeader::sklearn;
  if (text == "none") return CsvHeader::none;
  throw DataError("invalid CSV header style '" + text + "'; choose one of 'auto', 'names', 'sklearn', 'none'");
}

bool parse_number(const std::string& text, double& value) {
  const std::string trimmed = trim(text);
  if (trimmed.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(trimmed.c_str(), &end);
  return end == trimmed.c_str() + trimmed.size() && errno == 0 && std::isfinite(value);
}

bool split_csv_line(const std::string& line, char delimiter, std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == delimiter) {
      fields.push_back(trim(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(trim(field));
  return !quoted;
}

CsvTable read_csv(const std::string& path, char delimiter, CsvHeader header) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw DataError("cannot open CSV file '" + path + "'");

  CsvTable table;
  table.path = path;
  std::vector<std::string> first;
  int64_t first_line = 0;
  std::string line;
  int64_t line_number = 0;
  std::vector<std::string> fields;
  while (std::getline(file, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    if (!split_csv_line(line, delimiter, fields)) {
      throw DataError("CSV file '" + path + "' line " + std::to_string(line_number) +
                      ": a quoted field is not closed (fields may not span lines)");
    }
    if (first_line == 0) {
      first = fields;
      first_line = line_number;
      continue;
    }
    if (!table.rows.empty() && fields.size() != table.rows.front().size()) {
      throw DataError("CSV file '" + path + "' line " + std::to_string(line_number) + " has " +
                      std::to_string(fields.size()) + " fields but line " + std::to_string(table.line_numbers.front()) +
                      " has " + std::to_string(table.rows.front().size()) + "; is the file truncated or the delimiter wrong?");
    }
    table.rows.push_back(fields);
    table.line_numbers.push_back(line_number);
  }
  if (first_line == 0) throw DataError("CSV file '" + path + "' is empty");

  const size_t width = table.rows.empty() ? first.size() : table.rows.front().size();
  if (header == CsvHeader::auto_detect) {
    if (looks_like_sklearn(first, table.rows.size(), width)) {
      header = CsvHeader::sklearn;
    } else {
      header = all_numbers(first) ? CsvHeader::none : CsvHeader::names;
    }
  }
  table.header = header;

  if (header == CsvHeader::none) {
    if (!table.rows.empty() && first.size() != width) {
      throw DataError("CSV file '" + path + "' line " + std::to_string(first_line) + " has " +
                      std::to_string(first.size()) + " fields but the next line has " + std::to_string(width));
    }
    table.rows.insert(table.rows.begin(), first);
    table.line_numbers.insert(table.line_numbers.begin(), first_line);
  } else if (header == CsvHeader::names) {
    if (first.size() != width) {
      throw DataError("CSV file '" + path + "' header names " + std::to_string(first.size()) +
                      " columns but its rows have " + std::to_string(width) + " fields");
    }
    table.columns = first;
  } else {
    if (!looks_like_sklearn(first, table.rows.size(), width)) {
      throw DataError("CSV file '" + path + "' does not match its sklearn header '" + join_fields(first, delimiter) +
                      "': expected the first two fields to be the sample count (" + std::to_string(table.rows.size()) +
                      " rows follow) and the feature count (rows have " + std::to_string(width) +
                      " fields, so " + std::to_string(static_cast<int64_t>(width) - 1) +
                      "); is the file truncated?");
    }
    table.class_names.assign(first.begin() + 2, first.end());
  }
  if (table.columns.empty()) {
    for (size_t i = 0; i < width; ++i) table.columns.push_back(std::to_string(i));
  }
  if (table.rows.empty()) throw DataError("CSV file '" + path + "' has a header but no data rows");
  return table;
}

}  // namespace trainer::data
