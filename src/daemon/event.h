#pragma once
// What `uplinkctl events` shows: a link's state changed, or a policy's active
// links changed. Link events stay exactly {"ts","link","from","to","reason"}
// (ARCHITECTURE.md §2); policy events use other keys ("policy", "active",
// "active_before"), so a reader keyed on "link" never mistakes one for the other.
#include <string>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "uplink/link_state.h"

namespace uplink {

struct PolicyEvent {
  WallTime ts;
  std::string policy;
  std::vector<std::string> active_before;  // empty = the policy's last resort
  std::vector<std::string> active;         // empty = the policy's last resort
  std::string reason;                      // "wan1 down", "wan1 disabled", "config", ... (see routing_module.h)
};

using Event = std::variant<LinkEvent, PolicyEvent>;

}  // namespace uplink
