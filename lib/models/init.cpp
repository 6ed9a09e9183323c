#include "models/init.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

namespace trainer::models {

// Models are built on the CPU and moved to their device afterwards, so the CPU
// generator is the only one their initialisers draw from.
InitSeedScope::InitSeedScope(int64_t seed) {
  if (seed < 0) return;
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  saved_state_ = generator.get_state();
  generator.set_current_seed(static_cast<uint64_t>(seed));
}

InitSeedScope::~InitSeedScope() {
  if (!saved_state_.defined()) return;
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(saved_state_);
}

}  // namespace trainer::models
