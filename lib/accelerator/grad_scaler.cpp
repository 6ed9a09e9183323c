#include "accelerator/grad_scaler.h"

#include <ATen/Functions.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/errors.h"

namespace trainer::accelerator {

GradScaler::GradScaler(GradScalerOptions options) : options_(options), scale_(options.init_scale) {
  if (!(std::isfinite(options_.init_scale) && options_.init_scale > 0)) {
    throw std::invalid_argument("GradScaler init_scale must be finite and positive, got " +
                                std::to_string(options_.init_scale));
  }
  if (!(options_.growth_factor > 1.0)) {
    throw std::invalid_argument("GradScaler growth_factor must be above 1, got " +
                                std::to_string(options_.growth_factor));
  }
  if (!(options_.backoff_factor > 0.0 && options_.backoff_factor < 1.0)) {
    throw std::invalid_argument("GradScaler backoff_factor must be between 0 and 1, got " +
                                std::to_string(options_.backoff_factor));
  }
  if (options_.growth_interval < 1) {
    throw std::invalid_argument("GradScaler growth_interval must be at least 1, got " +
                                std::to_string(options_.growth_interval));
  }
}

at::Tensor GradScaler::scale(const at::Tensor& loss) const {
  if (!options_.enabled) return loss;
  return loss.mul(scale_);
}

bool GradScaler::unscale_and_find_inf(const std::vector<at::Tensor>& parameters) {
  if (!options_.enabled) return false;
  if (unscaled_) {
    throw std::logic_error("GradScaler::unscale_and_find_inf called twice in one step; call update() in between");
  }
  unscaled_ = true;

  at::NoGradGuard no_grad;
  const double inverse = 1.0 / scale_;
  std::vector<at::Tensor> finite;
  for (const at::Tensor& parameter : parameters) {
    at::Tensor gradient = parameter.grad();
    if (!gradient.defined()) continue;
    gradient.mul_(inverse);
    finite.push_back(at::isfinite(gradient).all());
  }
  if (finite.empty()) return false;
  // One flag per tensor, stacked on the device, so only one value crosses to the host.
  return !at::stack(finite).all().item<bool>();
}

void GradScaler::update(bool found_inf) {
  unscaled_ = false;
  if (!options_.enabled) return;
  if (found_inf) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
    return;
  }
  if (++growth_tracker_ < options_.growth_interval) return;
  growth_tracker_ = 0;
  // As in PyTorch's GradScaler, the scale grows only while it stays a finite float32:
  // an infinite scale would make every scaled loss inf, and halving inf stays inf.
  const double grown = scale_ * options_.growth_factor;
  if (grown <= std::numeric_limits<float>::max()) scale_ = grown;
}

std::map<std::string, double> GradScaler::state() const {
  return {{"scale", scale_}, {"growth_tracker", static_cast<double>(growth_tracker_)}};
}

void GradScaler::load_state(const std::map<std::string, double>& state) {
  const auto scale = state.find("scale");
  if (scale == state.end()) throw CheckpointError("loss scaler state has no 'scale'");
  if (!(std::isfinite(scale->second) && scale->second > 0)) {
    throw CheckpointError("loss scaler state has scale " + std::to_string(scale->second) +
                          "; it must be finite and positive");
  }
  const auto tracker = state.find("growth_tracker");
  if (tracker == state.end()) throw CheckpointError("loss scaler state has no 'growth_tracker'");
  if (!(tracker->second >= 0 && std::floor(tracker->second) == tracker->second &&
        tracker->second <= static_cast<double>(std::numeric_limits<int32_t>::max()))) {
    throw CheckpointError("loss scaler state has growth_tracker " + std::to_string(tracker->second) +
                          "; it must be a non-negative integer");
  }
  scale_ = scale->second;
  growth_tracker_ = static_cast<int64_t>(tracker->second);
  unscaled_ = false;
}

}  // namespace trainer::accelerator
