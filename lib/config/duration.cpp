#include "config/duration.h"

#include <cstdlib>
#include <sstream>
#include <vector>

namespace trainer::config {

std::optional<double> parse_duration_seconds(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::vector<std::string> fields;
  std::string field;
  std::istringstream stream(text);
  while (std::getline(stream, field, ':')) fields.push_back(field);
  if (fields.empty() || fields.size() > 4) return std::nullopt;

  // Units of each field counted from the right: seconds, minutes, hours, days.
  static const double kUnits[] = {1.0, 60.0, 3600.0, 86400.0};
  double seconds = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& part = fields[fields.size() - 1 - i];
    char* end = nullptr;
    const double value = std::strtod(part.c_str(), &end);
    if (part.empty() || end != part.c_str() + part.size() || value < 0) return std::nullopt;
    seconds += value * kUnits[i];
  }
  return seconds;
}

}  // namespace trainer::config
