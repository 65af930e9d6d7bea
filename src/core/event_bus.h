#pragma once
// The daemon's event bus: typed topics, one sequence.
//
//   publisher --publish<T>(e)--> subscribers of T (typed, in subscription order)
//                            \-> if T is streamed: one StreamRecord to stream
//                                subscribers (events --follow, hooks, platform
//                                telemetry) and to the short history
//
// A topic is any struct T with
//   static constexpr std::string_view kTopic = "link";   // its name on the stream
//   static constexpr bool kStreamed = true;              // shown by `uplinkctl events`
// and, when streamed, `nlohmann::json event_json(const T&)` found by ADL (its
// wire form; must carry "ts"). Modules define their own topics in their own
// folders (ModemEvent in src/cellular, ...): the bus knows none of them.
// Everything runs on the io_context thread; delivery is synchronous and
// subscribers must not block or publish re-entrantly in a loop. An event a
// subscriber publishes is delivered (before the outer publish returns) after
// the event being delivered has reached every subscriber: all subscribers see
// events in publication order.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace uplink {

// One streamed event as `uplinkctl events --json` prints it.
struct StreamRecord {
  std::string topic;    // "link", "policy", "modem", ...
  nlohmann::json json;  // event_json(e)
};

class EventBus {
 public:
  explicit EventBus(size_t history = 256) : history_cap_(history) {}

  template <class T>
  uint64_t subscribe(std::function<void(const T&)> fn) {
    uint64_t id = next_id_++;
    subs_.emplace(id, Sub{std::type_index(typeid(T)),
                          [fn = std::move(fn)](const void* e) { fn(*static_cast<const T*>(e)); }, nullptr});
    return id;
  }
  // Every streamed event of every topic, as records.
  uint64_t subscribe_stream(std::function<void(const StreamRecord&)> fn) {
    uint64_t id = next_id_++;
    subs_.emplace(id, Sub{std::type_index(typeid(void)), nullptr, std::move(fn)});
    return id;
  }
  void unsubscribe(uint64_t id) { subs_.erase(id); }

  template <class T>
  void publish(const T& e) {
    ++published_[T::kTopic];  // kTopic is a literal: the view stays valid
    std::optional<StreamRecord> rec;
    if constexpr (T::kStreamed) {
      rec = StreamRecord{std::string(T::kTopic), event_json(e)};
      ++streamed_;
      history_.push_back(*rec);
      if (history_.size() > history_cap_) history_.pop_front();
    }
    if (delivering_) {
      // Published by a subscriber (routing's policy change for a link
      // event): delivered once the current event has reached every
      // subscriber, so that everyone sees publication order (the link event,
      // then the policy change it caused) whatever their subscription order.
      pending_.push_back([this, e, rec] { deliver(std::type_index(typeid(T)), &e, rec ? &*rec : nullptr); });
      return;
    }
    delivering_ = true;
    struct Done {
      EventBus& bus;
      ~Done() {
        bus.delivering_ = false;
        bus.pending_.clear();  // only non-empty when a subscriber threw
      }
    } done{*this};
    deliver(std::type_index(typeid(T)), &e, rec ? &*rec : nullptr);
    while (!pending_.empty()) {
      auto next = std::move(pending_.front());
      pending_.pop_front();
      next();
    }
  }

  // The last `history` streamed events of all topics, oldest first.
  const std::deque<StreamRecord>& recent() const { return history_; }
  // Streamed events of every topic since start.
  uint64_t streamed() const { return streamed_; }
  // Events of one topic published since start (streamed or not).
  uint64_t published(std::string_view topic) const {
    auto it = published_.find(topic);
    return it == published_.end() ? 0 : it->second;
  }

 private:
  struct Sub {
    std::type_index type;
    std::function<void(const void*)> typed;
    std::function<void(const StreamRecord&)> stream;
  };
  void deliver(std::type_index type, const void* e, const StreamRecord* rec) {
    // A subscriber may (un)subscribe while we deliver: step by id, not by
    // iterator; one added meanwhile hears the next event, not this one.
    const uint64_t end = next_id_;
    for (auto it = subs_.begin(); it != subs_.end() && it->first < end;) {
      const uint64_t id = it->first;
      if (it->second.typed && it->second.type == type) it->second.typed(e);
      else if (it->second.stream && rec) it->second.stream(*rec);
      it = subs_.upper_bound(id);
    }
  }

  std::map<uint64_t, Sub> subs_;
  uint64_t next_id_ = 1;
  std::deque<StreamRecord> history_;
  size_t history_cap_;
  std::map<std::string_view, uint64_t, std::less<>> published_;
  uint64_t streamed_ = 0;
  bool delivering_ = false;
  std::deque<std::function<void()>> pending_;  // published while delivering, in publication order
};

}  // namespace uplink
