#pragma once
// RoutingModule ("routing"): the daemon's Routing (src/policy) — policy
// engine, kernel programmer, conntrack flush, hooks — as a Module.
//
//   first apply --> Routing(config).start()   (adopts/removes a predecessor's objects)
//   later apply --> Routing::apply_config     (validated + nft dry run first: all or nothing)
//   stop()      --> Routing::stop()           (every route, rule and the nft table removed)
//
//   link states (MonitorModule observer) --> on_link_state --> decisions --> kernel
//   decision changes --> LinkStateSink::report_policy_active (+ policy listener: events)
//
// Why a policy changed (the reason of its event) is known only here: the
// module remembers what it is feeding the engine while the engine recomputes.
//   "wan1 down"      a member's state changed (up, degraded, down, disabled, unknown)
//   "wan1 quality"   a member's measured quality changed (quality mode)
//   "quality"        a quality-mode challenger held its margin for the hold time
//   "config"         a configuration change (members, mode, links removed)
//   "removed"        the policy was removed from the configuration
// "; last_resort" is appended when the policy is left with no active link.
//   netlink hard signals (carrier, address, interface gone) --> InterfaceSignals (MonitorModule)
//
// Registration order: routing BEFORE monitor. A new link's table and fwmark
// rule must exist before its first probe (probes carry the link's mark and are
// routed by that rule), and link states reported during the monitor's apply
// must find the link already known to the policy engine. Removals run in the
// same synchronous apply, so no probe is sent in between; on stop the daemon
// goes in reverse order: probes stop first, then the kernel is cleaned.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "daemon/module.h"
#include "net/conntrack.h"
#include "net/netlink.h"
#include "net/nft_monitor.h"
#include "net/nftables.h"
#include "policy/hooks.h"
#include "policy/policy_engine.h"
#include "policy/routing.h"

namespace uplink {

// The kernel seams Routing programs through (real ones in main, fakes in tests).
struct RoutingKernel {
  Netlink& netlink;
  NetlinkMonitor& monitor;
  Nftables& nft;
  Conntrack& conntrack;
  HookRunner& hooks;
  // Edits of our nft table by others, noticed at once (else: the 30 s check).
  NftChangeMonitor* nft_monitor = nullptr;
};

// Hard signals for the interfaces of configured links.
struct InterfaceSignals {
  std::function<void(const std::string& ifname, bool carrier)> on_carrier;
  std::function<void(const std::string& ifname, const IpPrefix& address, bool added)> on_address;
  std::function<void(const std::string& ifname)> on_link_gone;
};

class RoutingModule final : public Module {
 public:
  using PolicyListener = std::function<void(const PolicyChange& change, const std::string& reason)>;

  RoutingModule(TimeSource& time, RoutingKernel kernel, LinkStateSink& sink, QualityTuning tuning = {});
  ~RoutingModule() override;
  RoutingModule(const RoutingModule&) = delete;
  RoutingModule& operator=(const RoutingModule&) = delete;

  void set_interface_signals(InterfaceSignals signals) { signals_ = std::move(signals); }
  // Every change of a policy's active links, with its reason (after the
  // daemon's policy table has been told).
  void set_policy_listener(PolicyListener listener) { policy_listener_ = std::move(listener); }

  std::string_view name() const override { return "routing"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  // Adds "last_resort_active" to each entry of status["policies"].
  void add_status(nlohmann::json& status) const override;

  // A link's state (and quality, for quality-mode policies), from the link monitor.
  void on_link_state(const std::string& link, LinkState state, const LinkQuality& quality,
                     const std::string& reason);

  bool running() const { return routing_ != nullptr && !stopped_; }
  // nullptr before the first successful apply.
  const Routing* routing() const { return routing_.get(); }

 private:
  void on_policy_change(const PolicyChange& change);
  void report_all_policies();
  std::string reason_for(const PolicyChange& change) const;

  TimeSource& time_;
  RoutingKernel kernel_;
  LinkStateSink& sink_;
  QualityTuning tuning_;
  InterfaceSignals signals_;
  PolicyListener policy_listener_;
  // What the engine is recomputing for right now; empty: its own timer.
  std::string cause_;
  // The last state fed to the engine per link: a state change or a quality update.
  std::map<std::string, LinkState> fed_;
  std::unique_ptr<Routing> routing_;
  bool stopped_ = false;
};

}  // namespace uplink
