#include "trainer/predictions.h"

#include <ATen/Functions.h>

#include <cstdio>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"

namespace trainer {
namespace {

std::string format_value(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

}  // namespace

void write_predictions_csv(const std::string& path, Task task, const at::Tensor& outputs, const at::Tensor& targets) {
  std::ostringstream text;
  const at::Tensor out = outputs.to(at::kDouble).contiguous();
  const int64_t rows = out.size(0);
  switch (task) {
    case Task::classification: {
      const at::Tensor probabilities = out.softmax(1);
      const at::Tensor predicted = out.argmax(1);
      text << "index,target,prediction";
      for (int64_t c = 0; c < out.size(1); ++c) text << ",prob_" << c;
      text << "\n";
      for (int64_t i = 0; i < rows; ++i) {
        text << i << ',' << targets[i].item<int64_t>() << ',' << predicted[i].item<int64_t>();
        const double* p = probabilities[i].data_ptr<double>();
        for (int64_t c = 0; c < out.size(1); ++c) text << ',' << format_value(p[c]);
        text << "\n";
      }
      break;
    }
    case Task::regression: {
      const at::Tensor target = targets.to(at::kDouble).reshape({rows, -1}).contiguous();
      const at::Tensor flat = out.reshape({rows, -1}).contiguous();
      text << "index";
      for (int64_t c = 0; c < target.size(1); ++c) text << ",target_" << c;
      for (int64_t c = 0; c < flat.size(1); ++c) text << ",output_" << c;
      text << "\n";
      for (int64_t i = 0; i < rows; ++i) {
        text << i;
        for (int64_t c = 0; c < target.size(1); ++c) text << ',' << format_value(target[i][c].item<double>());
        for (int64_t c = 0; c < flat.size(1); ++c) text << ',' << format_value(flat[i][c].item<double>());
        text << "\n";
      }
      break;
    }
    case Task::next_token: {
      const at::Tensor predicted = out.argmax(-1);
      text << "index,prediction\n";
      for (int64_t i = 0; i < rows; ++i) {
        text << i << ',';
        for (int64_t t = 0; t < predicted.size(1); ++t) text << (t ? " " : "") << predicted[i][t].item<int64_t>();
        text << "\n";
      }
      break;
    }
  }
  write_file_atomic(path, text.str());
}

void write_npy(const std::string& path, const at::Tensor& tensor) {
  const at::Tensor data = tensor.contiguous().cpu();
  std::string descr;
  switch (data.scalar_type()) {
    case at::kFloat: descr = "<f4"; break;
    case at::kDouble: descr = "<f8"; break;
    case at::kLong: descr = "<i8"; break;
    case at::kByte: descr = "|u1"; break;
    default: throw UsageError("cannot write dtype " + std::string(c10::toString(data.scalar_type())) + " as .npy");
  }
  std::string shape = "(";
  for (int64_t dim : data.sizes()) shape += std::to_string(dim) + ", ";
  if (data.dim() > 1) shape.resize(shape.size() - 2);
  if (data.dim() == 1) shape.resize(shape.size() - 1);  // "(5,)"
  shape += ")";

  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Version 1.0: magic, version, little-endian header length, header padded with spaces
  // and ended by a newline so the data starts at a multiple of 64 bytes.
  const size_t preamble = 10;
  const size_t total = ((preamble + header.size() + 1 + 63) / 64) * 64;
  header.append(total - preamble - header.size() - 1, ' ');
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(static_cast<const char*>(data.data_ptr()), data.numel() * data.element_size());
  write_file_atomic(path, bytes);
}

}  // namespace trainer
