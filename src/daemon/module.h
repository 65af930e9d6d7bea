#pragma once
// The seams through which later modules plug into the daemon.
//
//   Daemon::apply_config(next)
//      diff = diff_configs(current, next)
//      for m in modules (registration order):  m->apply(next, diff)
//         on error: already-applied modules, newest first, get
//                   apply(current, diff_configs(next, current)); return error
//      commit: runtime tables (links/policies), events, config = next
//
// A link monitor (src/probe) is a Module that starts/stops/reconfigures one
// prober per link and reports through LinkStateSink; the policy engine and
// the kernel programmer are Modules that compute and program desired state
// and report the active members through LinkStateSink::report_policy_active.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/config.h"
#include "config/diff.h"
#include "uplink/link_state.h"

namespace uplink {

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string_view name() const = 0;

  // Moves the module from the running configuration to `next` (`diff` says
  // what changed). All or nothing: on error the module must be exactly as
  // before the call. It is also called with the previous configuration to
  // roll back when a module after it fails, so it must accept any valid
  // configuration in any order.
  virtual Result<void> apply(const Config& next, const ConfigDiff& diff) = 0;

  // Undoes everything the module added outside the process (routes, rules,
  // nftables, child processes). Called once when the daemon stops.
  virtual void stop() {}

  // Extra sections of `uplinkctl status --json` ("tunnels", "queue", ...).
  virtual void add_status(nlohmann::json& /*status*/) const {}
  // Extra Prometheus samples, complete lines with # HELP / # TYPE.
  virtual void add_metrics(std::string& /*text*/) const {}
  // Extra fields of `uplinkctl link show NAME --json` (e.g. "probes": per-target figures).
  virtual void add_link_detail(const std::string& /*link*/, nlohmann::json& /*detail*/) const {}
};

// Where modules report what they observe; the daemon owns the runtime
// tables that status, events and metrics are built from.
class LinkStateSink {
 public:
  virtual ~LinkStateSink() = default;
  // A state change of a link; ignored for links disabled by the administrator
  // (admin state wins) and for unknown names. Emits one LinkEvent.
  virtual void report_link_state(const std::string& link, LinkState state, const std::string& reason) = 0;
  virtual void report_link_quality(const std::string& link, const LinkQuality& quality) = 0;
  // The links a policy currently sends traffic over, in preference order.
  virtual void report_policy_active(const std::string& policy, std::vector<std::string> active) = 0;
};

}  // namespace uplink
