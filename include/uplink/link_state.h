#pragma once
// The state of one link as every module sees it (ARCHITECTURE.md §2).
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace uplink {

enum class LinkState { unknown, up, degraded, down, disabled };

inline std::string_view to_string(LinkState s) {
  switch (s) {
    case LinkState::unknown: return "unknown";
    case LinkState::up: return "up";
    case LinkState::degraded: return "degraded";
    case LinkState::down: return "down";
    case LinkState::disabled: return "disabled";
  }
  return "unknown";
}

// Usable for traffic: up, or degraded as a fallback (the policy decides).
inline bool carries_traffic(LinkState s) { return s == LinkState::up || s == LinkState::degraded; }

// Measured quality; absent until there is a measurement.
struct LinkQuality {
  std::optional<double> latency_ms;  // smoothed RTT over answering targets
  std::optional<double> jitter_ms;   // RFC 3550 interarrival jitter
  std::optional<double> loss_pct;    // loss over the sliding window
};

// One state change: exactly what `uplinkctl events --json` prints.
struct LinkEvent {
  static constexpr std::string_view kTopic = "link";  // a topic of the event bus (src/core/event_bus.h)
  static constexpr bool kStreamed = true;
  WallTime ts;
  std::string link;
  LinkState from = LinkState::unknown;
  LinkState to = LinkState::unknown;
  std::string reason;  // probes_ok, probe_timeout, probe_loss, latency, jitter, carrier_lost, admin, ...
};

}  // namespace uplink
