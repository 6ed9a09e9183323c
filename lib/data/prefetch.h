#pragma once
/// Background threads that build the next batches of an epoch ahead of the reader.

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "data/batch.h"

namespace trainer::data {

/// Builds batches `first`, `first + 1`, ... up to `end` on `num_workers` threads and
/// hands them out in order. Worker w builds every num_workers-th batch starting at
/// `first + w`, at most `capacity` batches ahead of the reader, so memory stays
/// bounded. A batch's content comes from `produce` alone, never from thread timing.
class Prefetcher {
 public:
  using Produce = std::function<Batch(int64_t index)>;

  Prefetcher(Produce produce, int64_t first, int64_t end, int64_t num_workers, int64_t capacity);
  /// Stops the workers and joins them; a batch being built is finished first.
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  /// Index of the batch the next take() returns.
  int64_t next_index() const { return next_; }
  /// Waits for batch next_index() and returns it, rethrowing the exception its worker caught.
  Batch take();

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  void work(int64_t first);

  Produce produce_;
  int64_t end_;
  int64_t stride_;
  int64_t capacity_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Slot> ready_;
  int64_t next_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace trainer::data
