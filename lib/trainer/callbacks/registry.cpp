#include <cmath>
#include <cstdio>

#include "core/errors.h"
#include "trainer/callbacks/callback.h"

namespace trainer::callbacks {

void register_model_checkpoint(CallbackRegistry& registry);
void register_early_stopping(CallbackRegistry& registry);
void register_lr_monitor(CallbackRegistry& registry);

CallbackRegistry& callback_registry() {
  static CallbackRegistry registry = [] {
    CallbackRegistry built_in;
    register_model_checkpoint(built_in);
    register_early_stopping(built_in);
    register_lr_monitor(built_in);
    return built_in;
  }();
  return registry;
}

std::string format_checkpoint_name(const std::string& pattern, int64_t epoch, int64_t step,
                                   const MetricHistory& metrics) {
  std::string out;
  size_t pos = 0;
  while (pos < pattern.size()) {
    const size_t open = pattern.find('{', pos);
    if (open == std::string::npos) {
      out += pattern.substr(pos);
      break;
    }
    const size_t close = pattern.find('}', open);
    if (close == std::string::npos) {
      throw UsageError("checkpoint filename '" + pattern + "' has an unclosed '{'");
    }
    out += pattern.substr(pos, open - pos);
    const std::string field = pattern.substr(open + 1, close - open - 1);
    const size_t colon = field.find(':');
    const std::string name = field.substr(0, colon);
    const std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);

    if (name == "epoch" || name == "step") {
      out += std::to_string(name == "epoch" ? epoch : step);
    } else {
      auto it = metrics.find(name);
      if (it == metrics.end()) {
        throw UsageError("checkpoint filename '" + pattern + "' uses metric '" + name +
                         "', which has not been logged yet");
      }
      // Only the forms .Nf, .Ne and .Ng are accepted, so the value is safe to pass to printf.
      const bool valid_spec = spec.empty() || (spec.size() >= 3 && spec[0] == '.' &&
                                               std::isdigit(static_cast<unsigned char>(spec[1])) &&
                                               std::string("feg").find(spec.back()) != std::string::npos &&
                                               spec.find_first_not_of("0123456789", 1) == spec.size() - 1);
      if (!valid_spec) {
        throw UsageError("checkpoint filename '" + pattern + "': format '" + spec + "' is not one of .Nf, .Ne, .Ng");
      }
      char buffer[64];
      std::snprintf(buffer, sizeof(buffer), ("%" + (spec.empty() ? std::string(".6g") : spec)).c_str(),
                    it->second.value);
      out += buffer;
    }
    pos = close + 1;
  }
  // A metric name such as val/loss must not create folders.
  for (char& c : out) {
    if (c == '/') c = '_';
  }
  return out;
}

}  // namespace trainer::callbacks
