#include "logging/progress.h"

#include <unistd.h>

namespace trainer::logging {

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

ProgressDisplay::ProgressDisplay(bool interactive, std::FILE* stream) : interactive_(interactive), stream_(stream) {}

void ProgressDisplay::start(const std::string& stage, int64_t epoch, int64_t total_batches, int64_t first_batch) {
  clear();
  stage_ = stage;
  epoch_ = epoch;
  total_ = total_batches;
  first_batch_ = first_batch;
  start_ = Clock::now();
  last_draw_ = Clock::time_point{};
}

std::string ProgressDisplay::rates(int64_t batch) const {
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  const auto done = static_cast<double>(batch - first_batch_);
  const double rate = seconds > 0 && done > 0 ? done / seconds : 0.0;
  char numbers[96];
  if (rate > 0) {
    std::snprintf(numbers, sizeof(numbers), "it/s=%.1f eta=%.1fs", rate, static_cast<double>(total_ - batch) / rate);
  } else {
    std::snprintf(numbers, sizeof(numbers), "it/s=- eta=-");
  }
  return numbers;
}

std::string ProgressDisplay::line(int64_t batch, const Metrics& shown) const {
  std::string text = stage_ + " epoch=" + std::to_string(epoch_) + " batch=" + std::to_string(batch) + "/" +
                     std::to_string(total_) + " " + rates(batch);
  for (const auto& [name, value] : shown) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.4f", value);
    text += " " + name + "=" + buffer;
  }
  return text;
}

void ProgressDisplay::update(int64_t batch, const Metrics& shown) {
  if (!interactive_) return;
  const auto now = Clock::now();
  if (batch < total_ && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  // '\r' returns to the line start and ESC[2K erases the line, so a shorter line leaves no tail.
  std::fprintf(stream_, "\r\033[2K%s", line(batch, shown).c_str());
  std::fflush(stream_);
  drawn_ = true;
}

void ProgressDisplay::clear() {
  if (!interactive_ || !drawn_) return;
  std::fputs("\r\033[2K", stream_);
  std::fflush(stream_);
  drawn_ = false;
}

}  // namespace trainer::logging
