#pragma once
// The kernel objects uplinkd owns, as plain values: routes in the per-link
// tables, ip rules in its priority range, and its one nftables table. The
// desired state and the state read back from the kernel use the same types,
// so the programmer's diff is a comparison of values.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/ip.h"

namespace uplink {

// rtm_protocol of every route and rule uplinkd adds: ownership is unambiguous
// after a crash (`ip route show table all proto 85`, `ip rule show protocol 85`).
inline constexpr uint8_t kOwnedProtocol = 0x55;
// The nftables table uplinkd owns (family inet).
inline constexpr const char* kNftTable = "uplinkd";

// unreachable / blackhole: the last resorts in the table of router-originated traffic.
enum class RouteType { unicast, unreachable, blackhole };

// One path of a multipath route; weight 1..256 (the kernel's rtnh_hops + 1).
struct Nexthop {
  std::optional<IpAddress> gateway{};
  int oif = 0;
  int weight = 1;
  bool operator==(const Nexthop&) const = default;
};

struct Route {
  int family = 0;             // AF_INET | AF_INET6
  uint32_t table = 0;
  IpPrefix dst{};             // length 0 = default route
  std::optional<IpAddress> gateway{};
  int oif = 0;                // ifindex
  RouteType type = RouteType::unicast;  // not unicast: no gateway, oif 0, no multipath
  std::vector<Nexthop> multipath{};     // >= 2 paths (then gateway/oif unused), else empty
  bool operator==(const Route&) const = default;
  // Identity in the kernel: one route per (family, table, dst) in our tables.
  auto key() const { return std::tuple(family, table, dst); }
  std::string to_string() const;
};

enum class RuleAction { lookup, unreachable, blackhole };

struct Rule {
  int family = 0;
  uint32_t priority = 0;
  uint32_t fwmark = 0, fwmask = 0;   // 0/0 = no mark selector
  std::optional<IpPrefix> src{};
  RuleAction action = RuleAction::lookup;
  uint32_t table = 0;                // lookup only (254 = main)
  int suppress_prefixlen = -1;       // -1 = none
  auto operator<=>(const Rule&) const = default;
  std::string to_string() const;
};

// The nftables table, split so that a policy change rewrites one chain only:
// `skeleton` is everything except the bodies of the per-policy chains.
struct NftState {
  std::string skeleton;                                     // "table inet uplinkd { ... }" with empty policy chains
  std::map<std::string, std::vector<std::string>> chains;   // policy chain name -> rule lines
  // Dynamic sets (sticky source pins, one per sticky rule, link and family)
  // that the chains above honour now. A set that drops out of this list is
  // flushed in the same transaction as the chain rewrite: its link left the
  // rule's policy, so its pins must not come back with the link.
  std::set<std::string> sticky_sets;
  // The private-traffic guard's chains (also in `skeleton`), as table body
  // text: what stays loaded after a clean stop with daemon.fail_closed.
  // Empty when no policy is private and no link has private_routes.
  std::string guard;
  bool operator==(const NftState&) const = default;
  bool empty() const { return skeleton.empty(); }
  // The whole table as one nft script (the policy chain bodies filled in).
  std::string render() const;
};

struct KernelState {
  std::vector<Route> routes;
  std::vector<Rule> rules;
  NftState nft;
  // What the desired state had to leave out and why (e.g. a link without an
  // IPv6 next hop); the caller logs each once. Never read back from the kernel.
  std::vector<std::string> warnings{};
};

}  // namespace uplink
