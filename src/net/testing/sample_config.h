#pragma once
// A small configuration for tests: wan1 (eth1, gateway 198.18.1.1), wan2
// (eth2, gateway learned) and cell1 (wwan0, point-to-point); policy
// "default" = failover wan1:3 + wan2:1 in tier 1, cell1 in tier 2; rules
// lan (sticky), voip (udp 5060), router (local) and the catch-all.
#include "config/config.h"

namespace uplink::testing {

inline IpPrefix prefix(const char* s) { return *IpPrefix::parse(s); }
inline IpAddress address(const char* s) { return *IpAddress::parse(s); }
// An interface address keeps its host bits (IpPrefix::parse would reject them).
inline IpPrefix ifaddr(const char* a, int len) { return IpPrefix{address(a), len}; }

inline Config sample_config() {
  Config c;
  auto add_link = [&](const char* name, const char* ifname, uint32_t table, uint32_t mark) {
    LinkConfig l;
    l.name = name;
    l.interface = ifname;
    l.table = table;
    l.fwmark = mark;
    c.links[name] = l;
    c.link_order.push_back(name);
  };
  add_link("wan1", "eth1", 101, 0x100);
  add_link("wan2", "eth2", 102, 0x200);
  add_link("cell1", "wwan0", 103, 0x300);
  c.links["wan1"].gateway = address("198.18.1.1");
  c.links["cell1"].kind = LinkKind::cellular;

  PolicyConfig p;
  p.name = "default";
  p.mode = PolicyMode::failover;
  p.members = {{"wan1", 1, 3}, {"wan2", 1, 1}, {"cell1", 2, 1}};
  p.last_resort = LastResort::unreachable;
  c.policies[p.name] = p;
  c.policy_order.push_back(p.name);
  PolicyConfig cell;
  cell.name = "cellular";
  cell.mode = PolicyMode::balance;
  cell.members = {{"cell1", 1, 1}};
  cell.last_resort = LastResort::blackhole;
  c.policies[cell.name] = cell;
  c.policy_order.push_back(cell.name);

  RuleConfig voip;
  voip.name = "voip";
  voip.protocol = "udp";
  voip.destination_ports = {{5060, 5060}, {10000, 20000}};
  voip.policy = "cellular";
  RuleConfig lan;
  lan.name = "lan";
  lan.source = prefix("192.168.50.0/24");
  lan.policy = "default";
  lan.sticky = std::chrono::minutes(10);
  RuleConfig router;
  router.name = "router";
  router.local = true;
  router.destination = prefix("203.0.113.0/24");
  router.policy = "cellular";
  RuleConfig all;
  all.name = "all";
  all.policy = "default";
  c.rules = {voip, lan, router, all};
  return c;
}

}  // namespace uplink::testing
