#include "net/facts.h"

#include <sys/socket.h>

namespace uplink {

Result<InterfaceFactsMap> gather_facts(Netlink& netlink, const std::vector<std::string>& interfaces) {
  auto links = netlink.list_links();
  if (!links) return make_error("reading interfaces: " + links.error().message);
  auto addrs = netlink.list_addresses();
  if (!addrs) return make_error("reading addresses: " + addrs.error().message);
  auto routes = netlink.list_default_routes();
  if (!routes) return make_error("reading default routes: " + routes.error().message);

  InterfaceFactsMap out;
  for (const auto& name : interfaces) {
    InterfaceFacts f;
    for (const auto& l : *links)
      if (l.name == name) {
        f.ifindex = l.ifindex;
        f.up = l.up;
        f.point_to_point = l.point_to_point;
      }
    if (f.ifindex != 0) {
      for (const auto& a : *addrs)
        if (a.ifindex == f.ifindex) f.addresses.push_back(a.prefix);
      for (bool main_only : {true, false})
        for (const auto& r : *routes) {
          if (r.protocol == kOwnedProtocol || r.route.type != RouteType::unicast) continue;
          if (main_only && r.route.table != kMainTable) continue;
          auto& gw = r.route.family == AF_INET ? f.gateway4 : f.gateway6;
          if (r.route.oif == f.ifindex && r.route.gateway && !gw) gw = r.route.gateway;
          for (const auto& nh : r.route.multipath)  // e.g. two IPv6 routers announcing themselves
            if (nh.oif == f.ifindex && nh.gateway && !gw) gw = nh.gateway;
        }
    }
    out[name] = std::move(f);
  }
  return out;
}

}  // namespace uplink
