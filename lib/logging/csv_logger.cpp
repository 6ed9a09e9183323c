#include "logging/csv_logger.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "core/atomic_file.h"

namespace trainer::logging {

CsvLogger::CsvLogger(std::string path) : path_(std::move(path)), columns_{"epoch", "step"} {}

CsvLogger::~CsvLogger() {
  if (file_ != nullptr) std::fclose(file_);
}

void CsvLogger::log(int64_t epoch, int64_t step, const Metrics& metrics) {
  std::map<std::string, std::string> row{{"epoch", std::to_string(epoch)}, {"step", std::to_string(step)}};
  bool new_columns = file_ == nullptr;
  for (const auto& [name, value] : metrics) {
    row[name] = format_metric(value);
    if (std::find(columns_.begin(), columns_.end(), name) == columns_.end()) {
      columns_.push_back(name);
      new_columns = true;
    }
  }
  rows_.push_back(row);

  if (new_columns) {
    if (file_ != nullptr) {
      std::fclose(file_);
      file_ = nullptr;
    }
    std::string text = header();
    for (const auto& old_row : rows_) text += format_row(old_row);
    write_file_atomic(path_, text);
    reopen_for_append();
    return;
  }
  const std::string line = format_row(row);
  if (std::fputs(line.c_str(), file_) < 0 || std::fflush(file_) != 0) {
    throw std::runtime_error("cannot write metrics file '" + path_ + "'");
  }
}

void CsvLogger::log_hyperparams(const Hyperparams& hparams, double) {
  write_file_atomic((std::filesystem::path(path_).parent_path() / "hparams.yaml").string(), hparams.config_yaml);
}

std::string CsvLogger::header() const {
  std::string text;
  for (size_t i = 0; i < columns_.size(); ++i) text += (i ? "," : "") + columns_[i];
  return text + "\n";
}

std::string CsvLogger::format_row(const std::map<std::string, std::string>& row) const {
  std::string text;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i) text += ",";
    auto it = row.find(columns_[i]);
    if (it != row.end()) text += it->second;
  }
  return text + "\n";
}

void CsvLogger::reopen_for_append() {
  file_ = std::fopen(path_.c_str(), "a");
  if (file_ == nullptr) throw std::runtime_error("cannot open metrics file '" + path_ + "' for appending");
}

}  // namespace trainer::logging
