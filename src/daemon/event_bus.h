#pragma once
// Fan-out of events (link and policy changes) to subscribers (event-stream
// followers, hooks, the MQTT uplink later), plus a short history for
// `uplinkctl events`. One sequence for both kinds: subscribers and the history
// see them in the order they were published.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>

#include "daemon/event.h"

namespace uplink {

class EventBus {
 public:
  using Subscriber = std::function<void(const Event&)>;
  using LinkSubscriber = std::function<void(const LinkEvent&)>;
  explicit EventBus(size_t history = 256) : history_cap_(history) {}

  // Every event, link and policy.
  uint64_t subscribe_all(Subscriber s);
  // Link events only (the bus carried nothing else before policy events).
  uint64_t subscribe(LinkSubscriber s);
  void unsubscribe(uint64_t id) { subs_.erase(id); }
  // Delivers synchronously, in subscription order. Subscribers must not block.
  void publish(const Event& e);
  // The last `history` events of both kinds, oldest first.
  const std::deque<Event>& recent() const { return history_; }
  // Events of both kinds since start.
  uint64_t published() const { return published_; }

 private:
  std::map<uint64_t, Subscriber> subs_;
  uint64_t next_id_ = 1;
  std::deque<Event> history_;
  size_t history_cap_;
  uint64_t published_ = 0;
};

}  // namespace uplink
