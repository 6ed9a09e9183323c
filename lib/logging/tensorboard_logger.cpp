#include "logging/tensorboard_logger.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace trainer::logging {
namespace {

// Field numbers come from TensorFlow's event.proto, summary.proto, tensor.proto and
// tensor_shape.proto, TensorBoard's hparams plugin_data.proto and api.proto, and
// google/protobuf/struct.proto.
namespace event_field {
constexpr int wall_time = 1, step = 2, file_version = 3, summary = 5;
}
namespace summary_value_field {
constexpr int tag = 1, simple_value = 2, tensor = 8, metadata = 9;
}
constexpr int kSummaryValue = 1;          // Summary.value (repeated)
constexpr int kMetadataPluginData = 1;    // SummaryMetadata.plugin_data
constexpr int kPluginName = 1, kPluginContent = 2;
constexpr int kTensorDtype = 1, kTensorShape = 2, kTensorFloatVal = 5, kTensorStringVal = 8;
constexpr int kDtFloat = 1, kDtString = 7;

/// HParamsPluginData and the messages inside it.
namespace hparams_field {
constexpr int version = 1, experiment = 2, session_start_info = 3, session_end_info = 4;
constexpr int start_hparams = 1, start_time_secs = 5;  // SessionStartInfo
constexpr int end_status = 1, end_time_secs = 2;       // SessionEndInfo
constexpr int experiment_time_created_secs = 3, experiment_hparam_infos = 4, experiment_metric_infos = 5;
constexpr int hparam_info_name = 1;
constexpr int metric_info_name = 1, metric_name_tag = 2;
constexpr int map_key = 1, map_value = 2;
constexpr int status_success = 1, status_failure = 2;
}  // namespace hparams_field
/// google.protobuf.Value
constexpr int kValueNumber = 2, kValueString = 3, kValueBool = 4;

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string plugin_metadata(const std::string& plugin_name, const std::string& content) {
  ProtoWriter plugin_data;
  plugin_data.add_bytes(kPluginName, plugin_name);
  if (!content.empty()) plugin_data.add_bytes(kPluginContent, content);
  ProtoWriter metadata;
  metadata.add_bytes(kMetadataPluginData, plugin_data.bytes());
  return metadata.bytes();
}

/// A scalar tensor: the text plugin reads a DT_STRING tensor; plugins that need none get a 0.0 float.
std::string string_tensor(const std::string& text) {
  ProtoWriter tensor;
  tensor.add_varint(kTensorDtype, kDtString);
  tensor.add_bytes(kTensorShape, "");
  tensor.add_bytes(kTensorStringVal, text);
  return tensor.bytes();
}

std::string null_tensor() {
  ProtoWriter tensor;
  tensor.add_varint(kTensorDtype, kDtFloat);
  tensor.add_bytes(kTensorShape, "");
  tensor.add_float(kTensorFloatVal, 0.0f);
  return tensor.bytes();
}

/// A Summary with one value that carries plugin metadata and a tensor.
std::string plugin_summary(const std::string& tag, const std::string& plugin, const std::string& content,
                           const std::string& tensor) {
  ProtoWriter value;
  value.add_bytes(summary_value_field::tag, tag);
  value.add_bytes(summary_value_field::metadata, plugin_metadata(plugin, content));
  value.add_bytes(summary_value_field::tensor, tensor);
  ProtoWriter summary;
  summary.add_bytes(kSummaryValue, value.bytes());
  return summary.bytes();
}

/// A google.protobuf.Value: a number or bool when the text reads as one, else a string.
std::string hparam_value(const std::string& text) {
  ProtoWriter value;
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (text == "true" || text == "false") {
    value.add_varint(kValueBool, text == "true" ? 1 : 0);
  } else if (!text.empty() && end == text.c_str() + text.size()) {
    value.add_double(kValueNumber, number);
  } else {
    value.add_bytes(kValueString, text);
  }
  return value.bytes();
}

std::string hparams_plugin_data(int field, const std::string& message) {
  ProtoWriter data;
  data.add_varint(hparams_field::version, 0);
  data.add_bytes(field, message);
  return data.bytes();
}

}  // namespace

TensorBoardLogger::TensorBoardLogger(const std::string& run_dir) {
  const auto seconds = static_cast<int64_t>(now_seconds());
  const std::string name = "events.out.tfevents." + std::to_string(seconds) + "." + hostname();
  writer_ = std::make_unique<TfRecordWriter>((std::filesystem::path(run_dir) / name).string());

  ProtoWriter event;
  event.add_double(event_field::wall_time, now_seconds());
  event.add_bytes(event_field::file_version, "brain.Event:2");
  writer_->write(event.bytes());
}

void TensorBoardLogger::write_summary(double wall_time, int64_t step, const std::string& summary) {
  ProtoWriter event;
  event.add_double(event_field::wall_time, wall_time);
  event.add_varint(event_field::step, static_cast<uint64_t>(step));
  event.add_bytes(event_field::summary, summary);
  writer_->write(event.bytes());
}

void TensorBoardLogger::log_hyperparams(const Hyperparams& hparams, double wall_time) {
  hparams_ = hparams;
  // The text plugin renders Markdown; a fenced block keeps the YAML's line breaks and indentation.
  write_summary(wall_time, 0, plugin_summary("config", "text", "", string_tensor("```yaml\n" + hparams.config_yaml + "```")));

  ProtoWriter start;
  for (const auto& [key, text] : hparams.flat) {
    ProtoWriter entry;
    entry.add_bytes(hparams_field::map_key, key);
    entry.add_bytes(hparams_field::map_value, hparam_value(text));
    start.add_bytes(hparams_field::start_hparams, entry.bytes());
  }
  start.add_double(hparams_field::start_time_secs, wall_time);
  write_summary(wall_time, 0,
                plugin_summary("_hparams_/session_start_info", "hparams",
                               hparams_plugin_data(hparams_field::session_start_info, start.bytes()), null_tensor()));
}

void TensorBoardLogger::log_metrics(const MetricsEvent& event) {
  ProtoWriter summary;
  for (const auto& [name, number] : event.metrics) {
    ProtoWriter value;
    value.add_bytes(summary_value_field::tag, name);
    value.add_float(summary_value_field::simple_value, static_cast<float>(number));
    summary.add_bytes(kSummaryValue, value.bytes());
  }
  write_summary(event.wall_time, event.step, summary.bytes());
  last_step_ = event.step;
}

void TensorBoardLogger::finalize(const std::string& status, const Metrics& final_metrics, double wall_time) {
  // The dashboard shows, per run, each listed metric's newest scalar next to the hyperparameters.
  ProtoWriter experiment;
  experiment.add_double(hparams_field::experiment_time_created_secs, wall_time);
  for (const auto& [key, text] : hparams_.flat) {
    ProtoWriter info;
    info.add_bytes(hparams_field::hparam_info_name, key);
    experiment.add_bytes(hparams_field::experiment_hparam_infos, info.bytes());
  }
  for (const auto& [name, value] : final_metrics) {
    ProtoWriter metric_name;
    metric_name.add_bytes(hparams_field::metric_name_tag, name);
    ProtoWriter info;
    info.add_bytes(hparams_field::metric_info_name, metric_name.bytes());
    experiment.add_bytes(hparams_field::experiment_metric_infos, info.bytes());
  }
  write_summary(wall_time, last_step_,
                plugin_summary("_hparams_/experiment", "hparams",
                               hparams_plugin_data(hparams_field::experiment, experiment.bytes()), null_tensor()));

  ProtoWriter end;
  end.add_varint(hparams_field::end_status,
                 status == "finished" ? hparams_field::status_success : hparams_field::status_failure);
  end.add_double(hparams_field::end_time_secs, wall_time);
  write_summary(wall_time, last_step_,
                plugin_summary("_hparams_/session_end_info", "hparams",
                               hparams_plugin_data(hparams_field::session_end_info, end.bytes()), null_tensor()));
}

}  // namespace trainer::logging
