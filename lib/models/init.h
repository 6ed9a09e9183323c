#pragma once
/// Seeded weight initialisation: a model built inside an InitSeedScope draws its
/// initial weights from its own seed and leaves the global random stream as it was.

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace trainer::models {

class InitSeedScope {
 public:
  /// Seeds the default CPU generator with `seed` until the scope ends, then restores
  /// its previous state. A negative seed does nothing, so weights come from the global stream.
  explicit InitSeedScope(int64_t seed);
  ~InitSeedScope();
  InitSeedScope(const InitSeedScope&) = delete;
  InitSeedScope& operator=(const InitSeedScope&) = delete;

 private:
  at::Tensor saved_state_;  ///< undefined when the scope does nothing
};

}  // namespace trainer::models
