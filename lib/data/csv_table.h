#pragma once
/// A small CSV reader for tabular datasets: quoted fields, CRLF line ends, and the
/// header styles of users' files and of scikit-learn's bundled CSVs.

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::data {

/// The first line of a CSV file.
///  - names:   column names ("sepal_length,sepal_width,...,species").
///  - sklearn: "n_samples,n_features[,class names...]" as in scikit-learn's iris.csv,
///             wine_data.csv and breast_cancer.csv; the target is the last column.
///  - none:    no header; the first line is data.
///  - auto:    sklearn when the first line is two integers N and F followed only by
///             non-numeric class names, and exactly N rows of F + 1 fields follow.
///             Otherwise names when any field of the first line is not a number,
///             and none when every field is.
enum class CsvHeader { auto_detect, names, sklearn, none };

/// Parses "auto", "names", "sklearn" or "none".
CsvHeader parse_csv_header(const std::string& text);

struct CsvTable {
  std::string path;
  CsvHeader header = CsvHeader::none;  ///< never auto_detect once read
  /// Column names from a names header; "0", "1", ... (0-based positions) otherwise.
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> line_numbers;  ///< 1-based file line of each row, for errors
  /// Class names of a sklearn header, in label order; empty otherwise.
  std::vector<std::string> class_names;
};

/// Reads `path`. Blank lines are skipped. Throws DataError naming the file and line
/// for an unreadable file, an unterminated quote, a row whose field count differs
/// from the first row's, or a sklearn header whose counts do not match the rows.
CsvTable read_csv(const std::string& path, char delimiter, CsvHeader header);

/// Splits one line into fields; `"` quotes a field and `""` inside quotes is a quote.
/// Returns false when a quote is not closed.
bool split_csv_line(const std::string& line, char delimiter, std::vector<std::string>& fields);

/// Parses a whole field as a finite number.
bool parse_number(const std::string& text, double& value);

}  // namespace trainer::data
