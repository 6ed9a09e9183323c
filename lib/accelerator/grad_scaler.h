#pragma once
/// Dynamic loss scaling for float16 mixed precision ('16-mixed'), the method of
/// torch.cuda.amp.GradScaler, written with plain tensor ops so that it runs on any device.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trainer::accelerator {

struct GradScalerOptions {
  double init_scale = 65536.0;     ///< loss scale of the first step, 2^16
  double growth_factor = 2.0;      ///< multiplies the scale after growth_interval steps without inf or NaN
  double backoff_factor = 0.5;     ///< multiplies the scale after a step with an inf or NaN gradient
  int64_t growth_interval = 2000;  ///< consecutive finite steps before the scale grows
  bool enabled = true;             ///< false makes scale() the identity and the other methods no-ops
};

/// Multiplies the loss by a large factor before backward, so that small float16 gradients
/// do not flush to zero, and divides the gradients by it again before the optimizer step.
/// The factor halves after a step whose gradients overflowed and doubles after
/// growth_interval clean steps.
///
/// The Trainer uses it once per optimizer step (one accumulation window):
///   1. scale(loss).backward() for each batch of the window.
///   2. After the ddp gradient all-reduce, found_inf = unscale_and_find_inf(parameters).
///      Every rank then has the same averaged gradients, so all ranks agree on
///      found_inf without another collective.
///   3. If found_inf, skip optimizer.step() and zero the gradients. Otherwise clip the
///      gradients, which is correct only now that they are unscaled, and step.
///   4. update(found_inf), once per window, whether or not the step ran.
/// state() and load_state() carry the scale and the growth tracker through checkpoints.
class GradScaler {
 public:
  /// Throws std::invalid_argument for options outside init_scale > 0, growth_factor > 1,
  /// 0 < backoff_factor < 1 and growth_interval >= 1.
  explicit GradScaler(GradScalerOptions options = {});

  bool enabled() const { return options_.enabled; }
  double current_scale() const { return scale_; }
  /// Consecutive steps without inf or NaN since the scale last changed.
  int64_t growth_tracker() const { return growth_tracker_; }

  /// Returns loss * current_scale(), or `loss` itself when disabled.
  at::Tensor scale(const at::Tensor& loss) const;

  /// Divides every defined gradient of `parameters` by current_scale() in place and
  /// returns true when any gradient contains an inf or NaN. Reads one value from the
  /// device, not one per tensor. Returns false without touching the gradients when
  /// disabled. Throws std::logic_error when called twice before update(), because the
  /// gradients would be divided twice.
  bool unscale_and_find_inf(const std::vector<at::Tensor>& parameters);

  /// Ends the step. With found_inf, multiplies the scale by backoff_factor and resets the
  /// growth tracker. Otherwise counts the step, and when the count reaches growth_interval,
  /// multiplies the scale by growth_factor, unless that would overflow float32.
  void update(bool found_inf);

  /// Returns {"scale", "growth_tracker"}, the values a checkpoint stores.
  std::map<std::string, double> state() const;
  /// Restores state(). Throws CheckpointError when "scale" is missing, not finite or not
  /// positive, or "growth_tracker" is missing or not a non-negative integer. Other keys
  /// are ignored, so that newer checkpoints with more keys still load.
  void load_state(const std::map<std::string, double>& state);

 private:
  GradScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0;
  bool unscaled_ = false;  ///< unscale_and_find_inf ran since the last update()
};

}  // namespace trainer::accelerator
