#pragma once
// Routing: the one object the daemon owns for "where packets go". It wires
//
//   on_link_state() --> PolicyEngine --decisions--> build_kernel_state() --> Programmer
//                            |                                                  (libnl, nft)
//                            +--changes--> Conntrack flush (links that left) --> callbacks (with the cause)
//   NetlinkMonitor --> facts (ifindex, addresses, learned gateways) --> re-program
//                  --> on_carrier / on_address / on_link_gone (hard signals for link monitoring)
//
// Everything runs on the io_context thread; nothing here blocks for long
// (netlink requests are synchronous but local; hooks run in the background;
// conntrack flushes go through Conntrack::flush_mark_async: with an
// AsyncConntrackFlusher they run on its worker thread).
#include <functional>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "net/conntrack.h"
#include "net/desired_state.h"
#include "net/netlink.h"
#include "net/nftables.h"
#include "net/programmer.h"
#include "policy/policy_engine.h"
#include "uplink/link_state.h"

namespace uplink {

struct RoutingCallbacks {
  // Hard signals from the kernel, for the link interfaces of the configuration.
  std::function<void(const std::string& ifname, bool carrier)> on_carrier;
  std::function<void(const std::string& ifname, const IpPrefix& address, bool added)> on_address;
  std::function<void(const std::string& ifname)> on_link_gone;
  // A policy's active set changed (for `uplinkctl events`).
  std::function<void(const PolicyChange& change)> on_policy_change;
};

class Routing {
 public:
  Routing(const Config& config, TimeSource& time, Netlink& netlink, NetlinkMonitor& monitor, Nftables& nft,
          Conntrack& conntrack, QualityTuning tuning = {}, KernelObjects* shared = nullptr);
  ~Routing();

  void set_callbacks(RoutingCallbacks callbacks) { callbacks_ = std::move(callbacks); }
  // Watches netlink, reads the interfaces, adopts/repairs what is in the
  // kernel. Until link states arrive every policy is at its last resort.
  Result<void> start();
  // Removes every route, rule and the nft table uplinkd owns.
  Result<void> stop();
  // Validates that the new configuration can be programmed (marks, tables,
  // priorities, nft syntax in a dry run); on error nothing changes.
  Result<void> apply_config(const Config& config);
  void on_link_state(const std::string& link, LinkState state, const LinkQuality& quality);

  // Someone else changed our nft table: read back and repair (debounced).
  void repair_soon() { programmer_.schedule_sync(); }

  // [{"name","mode","active":[...],"last_resort_active":bool}] in file order.
  nlohmann::json status_json() const;
  const Decisions& decisions() const { return engine_.decisions(); }

 private:
  void on_netlink(const NetlinkEvent& event);
  void refresh_facts();
 public:
  // Next hops a module learned for a link (LinkNextHopEvent); both empty withdraws them.
  void set_learned_next_hops(const std::string& link, std::optional<IpAddress> gw4, std::optional<IpAddress> gw6);

 private:
  void overlay_learned();
  std::map<std::string, std::pair<std::optional<IpAddress>, std::optional<IpAddress>>> learned_;  // by link
  void program();
  void on_changes(const std::vector<PolicyChange>& changes);
  void flush_links();
  void log_warnings(const KernelState& ks);
  std::vector<std::string> interfaces() const;
  const LinkConfig* link_by_interface(const std::string& ifname) const;

  Config config_;
  TimeSource& time_;
  Netlink& netlink_;
  NetlinkMonitor& monitor_;
  Nftables& nft_;
  Conntrack& conntrack_;
  PolicyEngine engine_;
  Programmer programmer_;
  RoutingCallbacks callbacks_;
  InterfaceFactsMap facts_;
  std::unique_ptr<Timer> refresh_timer_;
  bool started_ = false;
  // Per link, as of the last flush decision: usable, active in some policy.
  std::map<std::string, std::pair<bool, bool>> link_usage_;
  // Warnings of the last desired state: each is logged when it appears, not on every decision.
  std::set<std::string> warnings_;
};

}  // namespace uplink
