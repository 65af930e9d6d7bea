#pragma once
// The core topics of the event bus (src/core/event_bus.h). Modules add their
// own (modem, tunnel, queue, plugin) in their own folders, in the same shape.
//
//   LinkEvent      (include/uplink/link_state.h)  the LinkTable, once per transition   streamed
//   PolicyEvent    the routing module, once per change of a policy's active links,
//                  with its cause (which link changed to what)                        streamed
//   PolicyActive   the routing module, a policy's active links after an apply             internal
//   InterfaceEvent the routing module's netlink watch: carrier, address, interface     internal
//   LinkQualityEvent the LinkTable, when the monitor refreshes a link's figures      internal
//   HardSignalEvent the LinkTable, when a module raises or clears a hard signal        internal
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/ip.h"
#include "uplink/link_state.h"

namespace uplink {

struct PolicyEvent {
  static constexpr std::string_view kTopic = "policy";
  static constexpr bool kStreamed = true;
  WallTime ts;
  std::string policy;
  std::vector<std::string> active_before;  // empty = the policy's last resort
  std::vector<std::string> active;         // empty = the policy's last resort
  std::string reason;                      // "wan1 down", "wan1 quality", "quality", "config", "removed" (+ "; last_resort")
  // The cause as data, carried by the decision itself: the link whose change
  // made the engine recompute and the state it changed to ("" for config,
  // removal and the quality hold timer).
  std::string cause_link;
  std::string cause;                       // "down", "up", ..., "quality" (also the hold timer), "config", "removed"
};

// A policy's active links as they are now, without a change to report (after
// an apply, for policies whose decision the apply did not change).
struct PolicyActive {
  static constexpr std::string_view kTopic = "policy_active";
  static constexpr bool kStreamed = false;
  std::string policy;
  std::vector<std::string> active;
};

struct InterfaceEvent {
  static constexpr std::string_view kTopic = "interface";
  static constexpr bool kStreamed = false;
  enum class Kind { carrier, address, gone };
  std::string ifname;
  Kind kind = Kind::carrier;
  bool up = false;       // carrier: present; address: added
  IpPrefix address{};    // address only
};

// A link's measured quality was refreshed (the monitor, about once a second);
// the figures are in the LinkTable. Quality-mode policies follow it.
struct LinkQualityEvent {
  static constexpr std::string_view kTopic = "link_quality";
  static constexpr bool kStreamed = false;
  std::string link;
};

// A link's next hops as a module learned them (a cellular bearer's gateway):
// routing uses them like a configured gateway until they are withdrawn
// (both empty). A configured `gateway`/`gateway6` still wins.
struct LinkNextHopEvent {
  static constexpr std::string_view kTopic = "link_next_hop";
  static constexpr bool kStreamed = false;
  std::string link;
  std::optional<IpAddress> gateway4{}, gateway6{};
};

struct HardSignalEvent {
  static constexpr std::string_view kTopic = "hard_signal";
  static constexpr bool kStreamed = false;
  std::string link;
  std::string source;    // "bearer", "registration", "modem", "tunnel_device", ... (the module's word)
  bool down = false;     // raised (true) or cleared
  std::string reason;    // the link's reason while raised: "bearer_disconnected", ...
};

// Wire forms, exactly what `uplinkctl events --json` prints.
// {"ts","link","from","to","reason"}: exactly these keys (ARCHITECTURE.md §2).
nlohmann::json event_json(const LinkEvent& e);
// {"ts","policy","active_before","active","reason","cause_link","cause"}.
nlohmann::json event_json(const PolicyEvent& e);

}  // namespace uplink
