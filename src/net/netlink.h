#pragma once
// The rtnetlink seam: routes, rules, links and addresses. The real one is
// LibnlNetlink (libnl-route-3); tests use FakeNetlink (net/testing/).
// Everything a Netlink adds carries rtm_protocol kOwnedProtocol.
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/kernel_state.h"

namespace uplink {

struct RouteEntry {
  Route route;
  uint8_t protocol = 0;
  bool operator==(const RouteEntry&) const = default;
};

struct RuleEntry {
  Rule rule;
  uint8_t protocol = 0;
  bool operator==(const RuleEntry&) const = default;
};

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  bool up = false;       // IFF_UP
  bool carrier = false;  // IFF_LOWER_UP
  bool point_to_point = false;  // IFF_POINTOPOINT or IFF_NOARP: no neighbour discovery, `default dev IF` works
};

struct AddressInfo {
  int ifindex = 0;
  IpPrefix prefix;  // the address with its prefix length (host bits kept)
};

class Netlink {
 public:
  virtual ~Netlink() = default;
  // Default routes of every table and family, plus every route of ours (kOwnedProtocol) for other
  // prefixes: modules own prefix routes too (net/kernel_objects.h).
  virtual Result<std::vector<RouteEntry>> list_default_routes() = 0;
  virtual Result<void> add_route(const Route& route) = 0;  // replaces a route with the same key
  virtual Result<void> delete_route(const Route& route) = 0;
  virtual Result<std::vector<RuleEntry>> list_rules() = 0;  // both families
  virtual Result<void> add_rule(const Rule& rule) = 0;
  virtual Result<void> delete_rule(const Rule& rule) = 0;
  virtual Result<std::vector<LinkInfo>> list_links() = 0;
  virtual Result<std::vector<AddressInfo>> list_addresses() = 0;
  // Devices a module owns (a tunnel's TUN device): add an address (already
  // present = success) and set IFF_UP. Default: unsupported.
  virtual Result<void> add_address(int /*ifindex*/, const IpPrefix& prefix) {
    return make_error("netlink: adding address " + prefix.to_string() + " is not supported here");
  }
  virtual Result<void> delete_address(int /*ifindex*/, const IpPrefix& prefix) {
    return make_error("netlink: deleting address " + prefix.to_string() + " is not supported here");
  }
  virtual Result<void> set_link_mtu(int ifindex, int /*mtu*/) {
    return make_error("netlink: setting the MTU of link " + std::to_string(ifindex) + " is not supported here");
  }
  virtual Result<void> set_link_up(int ifindex, bool /*up*/) {
    return make_error("netlink: setting link " + std::to_string(ifindex) + " up/down is not supported here");
  }
};

// Kernel notifications, already decoded.
struct NetlinkEvent {
  enum class Kind { link, link_gone, address_added, address_removed, route, rule };
  Kind kind = Kind::route;
  LinkInfo link;        // link, link_gone
  AddressInfo address;  // address_*; address.ifindex resolves via link
  std::string ifname;   // link, link_gone, address_* (empty if unknown)
};

// Watches RTNLGRP_LINK, IPV4/IPV6_IFADDR, IPV4/IPV6_ROUTE, IPV4/IPV6_RULE.
class NetlinkMonitor {
 public:
  using Handler = std::function<void(const NetlinkEvent&)>;
  virtual ~NetlinkMonitor() = default;
  virtual Result<void> start(Handler handler) = 0;
  virtual void stop() = 0;
};

}  // namespace uplink
