#include "net/flush_queue.h"

#include <algorithm>

namespace uplink {

bool FlushRequest::covers(uint32_t other_mark, uint32_t other_mask) const {
  return (mask & ~other_mask) == 0 && (other_mark & mask) == mark;
}

bool FlushQueue::push(uint32_t mark, uint32_t mask, Conntrack::FlushDone done) {
  mark &= mask;
  for (auto& p : pending_) {
    if (p.covers(mark, mask)) {
      p.done.push_back(std::move(done));
      return false;
    }
  }
  FlushRequest next{mark, mask, {}};
  // Pending requests the new one covers are replaced by it, at the place of
  // the oldest of them: no request waits longer than it would have.
  size_t at = pending_.size();
  for (size_t i = pending_.size(); i-- > 0;) {
    auto& p = pending_[i];
    if (!next.covers(p.mark, p.mask)) continue;
    next.done.insert(next.done.begin(), std::make_move_iterator(p.done.begin()), std::make_move_iterator(p.done.end()));
    pending_.erase(pending_.begin() + long(i));
    at = i;
  }
  next.done.push_back(std::move(done));
  pending_.insert(pending_.begin() + long(at), std::move(next));
  return true;
}

std::optional<FlushRequest> FlushQueue::pop() {
  if (pending_.empty()) return std::nullopt;
  FlushRequest r = std::move(pending_.front());
  pending_.pop_front();
  return r;
}

std::vector<FlushRequest> FlushQueue::take_all() {
  std::vector<FlushRequest> all(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
  pending_.clear();
  return all;
}

}  // namespace uplink
