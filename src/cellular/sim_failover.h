#pragma once
// SIM-slot failover of one modem ([links.NAME.sim]): when to move to the next
// slot, and when to go back to the preferred one. Pure (wall time in, a
// decision out), so a simulated hour of flapping runs in a unit test.
//
//   unusable for switch_after, and min_dwell since the last switch -> next slot ("unusable")
//   no data within connect_timeout after a switch                  -> next slot ("no_data_after_switch")
//   on another slot, usable for return_after                       -> preferred slot ("return_to_preferred")
//   every switch needs room in the hour: fewer than max_switches_per_hour in the last 60 min
//
// The switch history (SimState) is persisted by the caller after every
// switch, so uplinkd restarting in a crash loop starts with the same budget
// and dwell: it can never storm the modem.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cellular/cellular_config.h"
#include "common/clock.h"

namespace uplink::cellular {

struct SimState {
  int slot = 0;                    // the slot we last switched to (0 = never switched)
  std::optional<WallTime> last_switch;
  std::vector<WallTime> switches;  // the last hour's
  bool operator==(const SimState&) const = default;
};
nlohmann::json to_json(const SimState& s);
// nullopt on anything malformed (the caller starts afresh and logs it).
std::optional<SimState> sim_state_from_json(const nlohmann::json& j);

class SimFailover {
 public:
  struct Decision {
    int slot = 0;
    std::string reason;  // unusable | no_data_after_switch | return_to_preferred
  };

  SimFailover(SimFailoverConfig config, SimState state);

  // The slot the modem reports (after a switch, at start-up).
  void observe_slot(int slot);
  // Called whenever usability may have changed and on a timer: returns the
  // slot to switch to now, if any. `usable`: data flows (the link is up or degraded).
  std::optional<Decision> evaluate(WallTime now, bool usable);
  // The switch was requested: it counts against the budget from now on.
  void switched(int slot, WallTime now);
  // True once when a wanted switch was refused for lack of budget (for one event).
  bool take_limited();
  // When evaluate() could next decide differently without new input (nullopt: never).
  std::optional<WallTime> next_deadline(WallTime now) const;

  const SimState& state() const { return state_; }
  int current_slot() const { return current_; }
  int preferred() const { return config_.slots.empty() ? 0 : config_.slots.front(); }

 private:
  int next_slot() const;
  bool budget(WallTime now);

  SimFailoverConfig config_;
  SimState state_;
  int current_ = 0;
  std::optional<WallTime> unusable_since_, usable_since_;
  bool awaiting_data_ = false;  // switched, no data seen yet
  bool limited_ = false, limited_reported_ = false;
};

}  // namespace uplink::cellular
