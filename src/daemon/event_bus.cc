#include "daemon/event_bus.h"

#include <vector>

namespace uplink {

uint64_t EventBus::subscribe_all(Subscriber s) {
  uint64_t id = next_id_++;
  subs_[id] = std::move(s);
  return id;
}

uint64_t EventBus::subscribe(LinkSubscriber s) {
  return subscribe_all([s = std::move(s)](const Event& e) {
    if (const auto* link = std::get_if<LinkEvent>(&e)) s(*link);
  });
}

void EventBus::publish(const Event& e) {
  ++published_;
  history_.push_back(e);
  while (history_.size() > history_cap_) history_.pop_front();
  // A subscriber may unsubscribe (itself or another) while being called.
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : subs_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = subs_.find(id);
    if (it != subs_.end()) it->second(e);
  }
}

}  // namespace uplink
