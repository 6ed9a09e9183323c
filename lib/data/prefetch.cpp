#include "data/prefetch.h"

namespace trainer::data {

Prefetcher::Prefetcher(Produce produce, int64_t first, int64_t end, int64_t num_workers, int64_t capacity)
    : produce_(std::move(produce)), end_(end), stride_(num_workers), capacity_(capacity), next_(first) {
  workers_.reserve(static_cast<size_t>(num_workers));
  for (int64_t w = 0; w < num_workers; ++w) workers_.emplace_back([this, start = first + w] { work(start); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void Prefetcher::work(int64_t first) {
  for (int64_t index = first; index < end_; index += stride_) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || index < next_ + capacity_; });
      if (stopping_) return;
    }
    Slot slot;
    try {
      slot.batch = produce_(index);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(index, std::move(slot));
    }
    changed_.notify_all();
  }
}

Batch Prefetcher::take() {
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return ready_.count(next_) > 0; });
    auto it = ready_.find(next_);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_;
  }
  changed_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

}  // namespace trainer::data
