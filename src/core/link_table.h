#pragma once
// LinkTable: the one owner of link state (ARCHITECTURE.md §4).
//
//   administrator (enable/disable) ----------+
//   hard signals, by source (any module) ----+--> effective state + reason --> LinkEvent on the bus
//   probe verdict (the link monitor) --------+     (one log line, one event; hooks, events --follow,
//   measured quality ------------------------> quality     metrics and telemetry all read that)
//
// Effective state, in this order: disabled (admin) if the administrator
// disabled the link; else down with the reason of the first raised hard
// signal (carrier, bearer, registration, tunnel device, ...); else the probe
// verdict (unknown until the monitor decides), where an up verdict becomes
// degraded while a soft signal (radio quality) is raised. A cleared hard signal does not
// bring a link back by itself: the HardSignalEvent tells the monitor, whose
// state machine makes the link earn its return with good probe rounds.
// Runs on the io_context thread; not thread-safe.
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "core/event_bus.h"
#include "uplink/link_state.h"

namespace uplink {

struct LinkEntry {
  LinkState state = LinkState::unknown;  // effective
  WallTime since;
  std::string reason;
  LinkQuality quality;
  uint64_t transitions = 0;
  bool enabled = true;
  LinkState verdict = LinkState::unknown;  // the probe state machine's
  std::string verdict_reason;
  std::map<std::string, std::string> hard_down;  // raised hard signals: source -> reason
  std::map<std::string, std::string> degrade;    // raised soft signals: source -> reason
};

class LinkTable {
 public:
  LinkTable(TimeSource& time, EventBus& bus) : time_(time), bus_(bus) {}

  // A new link: unknown (reason `reason`), or disabled (admin). No event: the
  // link did not change, it appeared. Re-adding an existing link is a no-op.
  void add(const std::string& link, bool enabled, const std::string& reason);
  void remove(const std::string& link);
  bool contains(const std::string& link) const { return links_.count(link) != 0; }

  // Administrative state: disabled (admin), or back to the verdict/hard signals.
  // Enabling forgets the old verdict: the monitor decides afresh (unknown).
  void set_enabled(const std::string& link, bool enabled);
  // The link monitor's verdict (never `disabled`: only the administrator disables).
  void report_verdict(const std::string& link, LinkState state, const std::string& reason);
  void report_quality(const std::string& link, const LinkQuality& quality);
  // A hard signal from `source` raised (down_reason set) or cleared (empty).
  // Raising takes the link down at once; both publish a HardSignalEvent.
  void set_hard_signal(const std::string& link, const std::string& source, const std::string& down_reason);
  void clear_hard_signal(const std::string& link, const std::string& source) { set_hard_signal(link, source, ""); }
  // A soft signal (radio quality below its threshold, ...) from `source`:
  // while raised, a link the probes find up is degraded with this reason
  // (never up, never down: the probes still decide reachability).
  void set_degrade_signal(const std::string& link, const std::string& source, const std::string& reason);

  const LinkEntry* find(const std::string& link) const;
  const std::map<std::string, LinkEntry>& all() const { return links_; }

 private:
  void recompute(const std::string& link, LinkEntry& e);

  TimeSource& time_;
  EventBus& bus_;
  std::map<std::string, LinkEntry> links_;
};

}  // namespace uplink
