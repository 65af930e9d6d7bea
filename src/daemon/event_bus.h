#pragma once
// Fan-out of LinkEvents to subscribers (event-stream followers, hooks, the
// MQTT uplink later), plus a short history for `uplinkctl events`.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>

#include "uplink/link_state.h"

namespace uplink {

class EventBus {
 public:
  using Subscriber = std::function<void(const LinkEvent&)>;
  explicit EventBus(size_t history = 256) : history_cap_(history) {}

  uint64_t subscribe(Subscriber s);
  void unsubscribe(uint64_t id) { subs_.erase(id); }
  // Delivers synchronously, in subscription order. Subscribers must not block.
  void publish(const LinkEvent& e);
  const std::deque<LinkEvent>& recent() const { return history_; }
  uint64_t published() const { return published_; }

 private:
  std::map<uint64_t, Subscriber> subs_;
  uint64_t next_id_ = 1;
  std::deque<LinkEvent> history_;
  size_t history_cap_;
  uint64_t published_ = 0;
};

}  // namespace uplink
