#pragma once
// Frames waiting for their departure time, earliest first; equal times leave in
// arrival order (a stable heap), so FIFO lines stay FIFO.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace uplink::linkemu {

template <class T>
class TimedQueue {
 public:
  void push(TimePoint when, T item) {
    heap_.push_back(Entry{when, seq_++, std::move(item)});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // TimePoint::max() when empty.
  TimePoint next_due() const { return heap_.empty() ? TimePoint::max() : heap_.front().when; }

  // The earliest item if it is due at `now`.
  std::optional<T> pop_due(TimePoint now) {
    if (heap_.empty() || heap_.front().when > now) return std::nullopt;
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    T item = std::move(heap_.back().item);
    heap_.pop_back();
    return item;
  }
  void clear() { heap_.clear(); }

 private:
  struct Entry {
    TimePoint when;
    uint64_t seq;
    T item;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.when != b.when ? a.when > b.when : a.seq > b.seq;
    }
  };
  std::vector<Entry> heap_;
  uint64_t seq_ = 0;
};

}  // namespace uplink::linkemu
