// Tabular data from CSV files: chosen feature columns, a class or real-valued target.

#include <ATen/Functions.h>

#include <algorithm>
#include <map>

#include "config/problems.h"
#include "core/errors.h"
#include "data/csv_table.h"
#include "data/dataset.h"

namespace trainer::data {
namespace {

struct CsvArgs : config::Args, LoaderArgs {
  std::string path;
  std::string val_path;
  std::string test_path;
  std::string header = "auto";
  std::string delimiter = ",";
  std::string features;
  std::string target;
  std::string task = "classification";
  bool standardize = true;

  CsvArgs() { val_size = {0.2, true}; }

  void visit(config::FieldVisitor& v) override {
    v.field("path", path, {"CSV file of the training samples.", {}, {}, {}, true});
    v.field("val_path", val_path,
            {"CSV file of the validation samples; empty: hold out val_size samples of path.", {}, {}, {}, true});
    v.field("test_path", test_path,
            {"CSV file of the test samples; empty: hold out test_size samples of path.", {}, {}, {}, true});
    v.field("header", header,
            {"First line: 'names' (column names), 'sklearn' (n_samples,n_features,class names...), 'none', "
             "or 'auto' (sklearn when the first line is two counts that match the rows plus class names, names "
             "when a field is not a number, else none).",
             {"auto", "names", "sklearn", "none"}});
    v.field("delimiter", delimiter, {"Field separator, one character."});
    v.field("features", features,
            {"Comma-separated feature columns, by header name or 0-based position; empty: every column "
             "except the targets."});
    v.field("target", target,
            {"Target column by header name or 0-based position; comma-separated for several regression "
             "targets. Empty: the last column."});
    v.field("task", task, {"What the model predicts from the features.", {"classification", "regression"}});
    v.field("standardize", standardize,
            {"Standardise each feature with the mean and standard deviation of the training split."});
    visit_loader(v);
  }
};

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> names;
  if (text.empty()) return names;
  std::vector<std::string> fields;
  split_csv_line(text, ',', fields);
  for (const std::string& field : fields) {
    if (!field.empty()) names.push_back(field);
  }
  return names;
}

/// Finds `name` among the columns, by exact name first and then as a 0-based position.
int64_t find_column(const CsvTable& table, const std::string& name, const std::string& key) {
  const auto it = std::find(table.columns.begin(), table.columns.end(), name);
  if (it != table.columns.end()) return it - table.columns.begin();
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    const int64_t position = std::stoll(name);
    if (position < static_cast<int64_t>(table.columns.size())) return position;
  }
  throw DataError("data.init_args." + key + ": column '" + name + "' not found in CSV file '" + table.path +
                  "'; its columns are " + config::quoted_list(table.columns) +
                  config::did_you_mean(name, table.columns));
}

struct ColumnChoice {
  std::vector<int64_t> features;
  std::vector<int64_t> targets;
};

ColumnChoice choose_columns(const CsvTable& table, const CsvArgs& args) {
  ColumnChoice choice;
  for (const std::string& name : split_names(args.target)) choice.targets.push_back(find_column(table, name, "target"));
  if (choice.targets.empty()) choice.targets.push_back(static_cast<int64_t>(table.columns.size()) - 1);
  if (args.task == "classification" && choice.targets.size() != 1) {
    throw DataError("data.init_args.target names " + std::to_string(choice.targets.size()) +
                    " columns, but classification takes one target column; use task: regression for several");
  }
  for (const std::string& name : split_names(args.features)) {
    choice.features.push_back(find_column(table, name, "features"));
  }
  if (choice.features.empty()) {
    for (int64_t i = 0; i < static_cast<int64_t>(table.columns.size()); ++i) {
      if (std::find(choice.targets.begin(), choice.targets.end(), i) == choice.targets.end()) choice.features.push_back(i);
    }
  }
  for (int64_t feature : choice.features) {
    if (std::find(choice.targets.begin(), choice.targets.end(), feature) != choice.targets.end()) {
      throw DataError("data.init_args.features includes the target column '" +
                      table.columns[static_cast<size_t>(feature)] + "'; remove it from features");
    }
  }
  if (choice.features.empty()) {
    throw DataError("CSV file '" + table.path + "' has no feature columns besides the target");
  }
  return choice;
}

std::string where(const CsvTable& table, size_t row, int64_t column) {
  return "CSV file '" + table.path + "' line " + std::to_string(table.line_numbers[row]) + ", column '" +
         table.columns[static_cast<size_t>(column)] + "'";
}

/// Returns the values of `columns` as an (rows, columns) float tensor.
at::Tensor numeric_columns(const CsvTable& table, const std::vector<int64_t>& columns) {
  const auto rows = static_cast<int64_t>(table.rows.size());
  at::Tensor values = at::empty({rows, static_cast<int64_t>(columns.size())}, at::kFloat);
  float* out = values.data_ptr<float>();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    for (int64_t column : columns) {
      const std::string& text = table.rows[r][static_cast<size_t>(column)];
      double value = 0;
      if (!parse_number(text, value)) {
        throw DataError(where(table, r, column) + ": " +
                        (text.empty() ? std::string("missing value") : "'" + text + "' is not a finite number") +
                        "; fix the file or leave the column out of data.init_args.features");
      }
      *out++ = static_cast<float>(value);
    }
  }
  return values;
}

bool all_integers(const std::vector<std::string>& labels) {
  for (const std::string& label : labels) {
    if (label.empty() || label.find_first_not_of("-0123456789") != std::string::npos || label.size() > 18) return false;
  }
  return true;
}

/// Class names of the training file: a sklearn header's names, else the distinct
/// labels, sorted numerically when all are integers and as text otherwise.
std::vector<std::string> class_names(const CsvTable& table, int64_t column) {
  if (!table.class_names.empty()) return table.class_names;
  std::vector<std::string> labels;
  for (const auto& row : table.rows) labels.push_back(row[static_cast<size_t>(column)]);
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  if (all_integers(labels)) {
    std::sort(labels.begin(), labels.end(),
              [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  }
  return labels;
}

/// Returns the class index of each row. A sklearn file stores the index itself.
at::Tensor class_targets(const CsvTable& table, int64_t column, const std::vector<std::string>& classes,
                         bool labels_are_indices) {
  std::map<std::string, int64_t> index_of;
  for (size_t i = 0; i < classes.size(); ++i) index_of[classes[i]] = static_cast<int64_t>(i);
  at::Tensor targets = at::empty({static_cast<int64_t>(table.rows.size())}, at::kLong);
  int64_t* out = targets.data_ptr<int64_t>();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string& label = table.rows[r][static_cast<size_t>(column)];
    if (labels_are_indices) {
      double value = -1;
      if (!parse_number(label, value) || value != static_cast<double>(static_cast<int64_t>(value)) || value < 0 ||
          value >= static_cast<double>(classes.size())) {
        throw DataError(where(table, r, column) + ": label '" + label + "' is not a class index in [0, " +
                        std::to_string(classes.size()) + ") as the sklearn header declares");
      }
      *out++ = static_cast<int64_t>(value);
      continue;
    }
    const auto it = index_of.find(label);
    if (it == index_of.end()) {
      throw DataError(where(table, r, column) + ": label '" + label + "' is not one of the " +
                      std::to_string(classes.size()) + " classes of the training file: " + config::quoted_list(classes));
    }
    *out++ = it->second;
  }
  return targets;
}

/// Re-encodes class targets to the saved class order; a class the saved run never saw is an error.
void restore_classes(const StateDict& saved, LoadedData& data) {
  const auto it = saved.find("classes");
  if (it == saved.end()) return;
  const std::vector<std::string> saved_classes = decode_names(it->second);
  const std::vector<std::string> current = decode_names(data.state.at("classes"));
  at::Tensor lookup = at::empty({static_cast<int64_t>(current.size())}, at::kLong);
  for (size_t i = 0; i < current.size(); ++i) {
    const auto found = std::find(saved_classes.begin(), saved_classes.end(), current[i]);
    if (found == saved_classes.end()) {
      throw DataError("class '" + current[i] + "' of the CSV data is not among the checkpoint's classes " +
                      config::quoted_list(saved_classes) + "; use the data the checkpoint was trained on");
    }
    lookup[static_cast<int64_t>(i)] = found - saved_classes.begin();
  }
  for (TensorDataset* split : {&data.train, &data.val, &data.test}) {
    if (split->size() > 0) split->targets = lookup.index_select(0, split->targets);
  }
  data.spec.num_outputs = static_cast<int64_t>(saved_classes.size());
}

struct Encoding {
  CsvHeader header;
  ColumnChoice columns;
  std::vector<std::string> classes;
};

TensorDataset encode(const CsvTable& table, const Encoding& encoding, const CsvArgs& args) {
  TensorDataset split;
  split.inputs = numeric_columns(table, encoding.columns.features);
  if (args.task == "classification") {
    split.targets = class_targets(table, encoding.columns.targets.front(), encoding.classes,
                                  encoding.header == CsvHeader::sklearn);
  } else {
    split.targets = numeric_columns(table, encoding.columns.targets);
  }
  return split;
}

LoadedData load_csv(const CsvArgs& args) {
  if (args.path.empty()) throw DataError("data.init_args.path is required for 'csv': name the training CSV file");
  if (args.delimiter.size() != 1) {
    throw DataError("data.init_args.delimiter is '" + args.delimiter + "'; it must be one character");
  }
  const char delimiter = args.delimiter[0];
  const CsvTable train = read_csv(args.path, delimiter, parse_csv_header(args.header));

  Encoding encoding;
  encoding.header = train.header;
  encoding.columns = choose_columns(train, args);
  if (args.task == "classification") encoding.classes = class_names(train, encoding.columns.targets.front());

  LoadedData data;
  data.train = encode(train, encoding, args);
  for (const auto& [file, split] : {std::pair{&args.val_path, &data.val}, std::pair{&args.test_path, &data.test}}) {
    if (file->empty()) continue;
    const CsvTable table = read_csv(*file, delimiter, train.header);
    if (table.columns != train.columns) {
      throw DataError("CSV file '" + *file + "' has columns " + config::quoted_list(table.columns) +
                      " but the training file '" + args.path + "' has " + config::quoted_list(train.columns));
    }
    *split = encode(table, encoding, args);
  }

  data.spec.input_shape = {static_cast<int64_t>(encoding.columns.features.size())};
  if (args.task == "classification") {
    data.spec.task = Task::classification;
    data.spec.num_outputs = static_cast<int64_t>(encoding.classes.size());
    data.state["classes"] = encode_names(encoding.classes);
    data.restore = restore_classes;
  } else {
    data.spec.task = Task::regression;
    data.spec.num_outputs = static_cast<int64_t>(encoding.columns.targets.size());
  }
  data.transform.standardize = args.standardize;
  return data;
}

}  // namespace

void register_csv_dataset(DataRegistry& registry) {
  registry.add<CsvArgs>("csv", "Tabular data from CSV files: feature columns and a class or real-valued target",
                        [](const CsvArgs& args) { return load_csv(args); });
}

}  // namespace trainer::data
