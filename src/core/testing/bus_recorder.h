#pragma once
// Records what the bus carries, for tests of modules and the daemon (in place
// of the old RecordingSink): link events, policy events and active sets,
// quality refreshes, interface and hard-signal events, and the stream of
// `uplinkctl events` with one line per event in publication order.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "core/event_bus.h"
#include "core/topics.h"

namespace uplink::testing {

// "link wan1 disabled (admin)" / "policy default wan1 -> - (wan1 disabled; last_resort)".
inline std::string describe(const LinkEvent& e) {
  return "link " + e.link + " " + std::string(to_string(e.to)) + " (" + e.reason + ")";
}
inline std::string describe(const PolicyEvent& e) {
  auto list = [](const std::vector<std::string>& v) { return v.empty() ? std::string("-") : join(v); };
  return "policy " + e.policy + " " + list(e.active_before) + " -> " + list(e.active) + " (" + e.reason + ")";
}

class BusRecorder {
 public:
  explicit BusRecorder(EventBus& bus) : bus_(bus) {
    ids_.push_back(bus.subscribe<LinkEvent>([this](const LinkEvent& e) {
      link_events.push_back(e);
      order.push_back(describe(e));
    }));
    ids_.push_back(bus.subscribe<PolicyEvent>([this](const PolicyEvent& e) {
      policy_events.push_back(e);
      active[e.policy] = e.active;
      order.push_back(describe(e));
    }));
    ids_.push_back(bus.subscribe<PolicyActive>([this](const PolicyActive& e) {
      active[e.policy] = e.active;
      ++active_reports;
    }));
    ids_.push_back(bus.subscribe<LinkQualityEvent>([this](const LinkQualityEvent& e) {
      ++quality_reports[e.link];
      ++quality_total;
    }));
    ids_.push_back(bus.subscribe<InterfaceEvent>([this](const InterfaceEvent& e) { interface_events.push_back(e); }));
    ids_.push_back(bus.subscribe<HardSignalEvent>([this](const HardSignalEvent& e) { hard_signals.push_back(e); }));
    ids_.push_back(bus.subscribe_stream([this](const StreamRecord& r) { stream.push_back(r); }));
  }
  ~BusRecorder() {
    for (uint64_t id : ids_) bus_.unsubscribe(id);
  }
  BusRecorder(const BusRecorder&) = delete;
  BusRecorder& operator=(const BusRecorder&) = delete;

  // The last state a link event announced for `link` (nullopt: none yet).
  std::optional<LinkState> last_state(const std::string& link) const {
    for (auto it = link_events.rbegin(); it != link_events.rend(); ++it)
      if (it->link == link) return it->to;
    return std::nullopt;
  }
  std::string last_reason(const std::string& link) const {
    for (auto it = link_events.rbegin(); it != link_events.rend(); ++it)
      if (it->link == link) return it->reason;
    return "";
  }
  // The policy events of one policy, as describe() prints them.
  std::vector<std::string> policy_lines(const std::string& policy) const {
    std::vector<std::string> out;
    for (const auto& e : policy_events)
      if (e.policy == policy) out.push_back(describe(e));
    return out;
  }
  void clear() {
    link_events.clear();
    policy_events.clear();
    interface_events.clear();
    hard_signals.clear();
    stream.clear();
    order.clear();
  }

  std::vector<LinkEvent> link_events;
  std::vector<PolicyEvent> policy_events;
  std::map<std::string, std::vector<std::string>> active;  // per policy, from PolicyEvent and PolicyActive
  int active_reports = 0;                                   // PolicyActive only
  std::map<std::string, int> quality_reports;
  int quality_total = 0;
  std::vector<InterfaceEvent> interface_events;
  std::vector<HardSignalEvent> hard_signals;
  std::vector<StreamRecord> stream;
  std::vector<std::string> order;  // link and policy events, in publication order

 private:
  EventBus& bus_;
  std::vector<uint64_t> ids_;
};

}  // namespace uplink::testing
