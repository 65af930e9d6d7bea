#pragma once
// The pending conntrack flushes of AsyncConntrackFlusher, coalesced. Pure
// (no threads, no locks: the flusher guards it), so the coalescing is tested
// on its own.
//
// A request (mark, mask) deletes the entries with (ct mark & mask) == mark.
// Request A covers request B when every entry B would delete A deletes too:
// A's mask bits are a subset of B's and B's mark agrees with A on them. A
// pending request that covers a new one absorbs it (the new callback waits for
// the pending flush); a new request that covers pending ones replaces them.
// So a link that flaps while a flush of it is queued is flushed once, and
// "all flows of L" swallows a queued "non-sticky flows of L".
// A request already running is not pending: a new one for the same mark is
// queued again (entries may have been created since its dump started).
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "net/conntrack.h"

namespace uplink {

struct FlushRequest {
  uint32_t mark = 0, mask = 0;  // mark already reduced to the mask's bits
  std::vector<Conntrack::FlushDone> done;
  bool covers(uint32_t other_mark, uint32_t other_mask) const;
};

class FlushQueue {
 public:
  // Queues a flush; false when a pending request already covers it (`done`
  // then waits for that one).
  bool push(uint32_t mark, uint32_t mask, Conntrack::FlushDone done);
  // The oldest pending request, removed from the queue.
  std::optional<FlushRequest> pop();
  // Every pending request, removed (on stop).
  std::vector<FlushRequest> take_all();
  size_t size() const { return pending_.size(); }
  bool empty() const { return pending_.empty(); }

 private:
  std::deque<FlushRequest> pending_;
};

}  // namespace uplink
