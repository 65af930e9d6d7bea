#pragma once
// How the link monitor and routing talk — the one place both directions are
// connected (main.cc and the tests use it, so they cannot drift apart):
//
//   MonitorModule --(link, state, quality, reason)--> RoutingModule::on_link_state
//   RoutingModule --netlink hard signals (by interface)--> MonitorModule
//   RoutingModule --policy changes (+ reason)--> Daemon --> PolicyEvent (events, metrics)
//
// Neither module knows the other; each only exposes a callback seam.
#include "daemon/daemon.h"
#include "daemon/monitor_module.h"
#include "daemon/routing_module.h"

namespace uplink {

inline void connect_modules(MonitorModule& monitor, RoutingModule& routing) {
  monitor.set_observer([&routing](const std::string& link, LinkState state, const LinkQuality& quality,
                                  const std::string& reason) { routing.on_link_state(link, state, quality, reason); });
  routing.set_interface_signals(InterfaceSignals{
      .on_carrier = [&monitor](const std::string& ifname, bool up) { monitor.on_carrier(ifname, up); },
      .on_address = [&monitor](const std::string& ifname, const IpPrefix& address,
                               bool added) { monitor.on_address(ifname, address, added); },
      .on_link_gone = [&monitor](const std::string& ifname) { monitor.on_link_gone(ifname); },
  });
}

inline void connect_policy_events(RoutingModule& routing, Daemon& daemon) {
  routing.set_policy_listener([&daemon](const PolicyChange& c, const std::string& reason) {
    daemon.report_policy_change(c.policy, c.from, c.to, reason);
  });
}

}  // namespace uplink
