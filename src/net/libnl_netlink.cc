#include "net/libnl_netlink.h"

#include <functional>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace uplink {

namespace {

std::string nl_error(int err) { return nl_geterror(err); }

IpAddress from_nl(nl_addr* a) {
  IpAddress out;
  if (!a) return out;
  int fam = nl_addr_get_family(a);
  size_t len = nl_addr_get_len(a);
  if ((fam != AF_INET && fam != AF_INET6) || len != (fam == AF_INET ? 4u : 16u)) return out;
  out.family = fam;
  memcpy(out.bytes.data(), nl_addr_get_binary_addr(a), len);
  return out;
}

struct NlAddr {
  nl_addr* p = nullptr;
  NlAddr(const IpAddress& a, int prefixlen) {
    p = nl_addr_build(a.family, a.bytes.data(), a.byte_len());
    if (p) nl_addr_set_prefixlen(p, prefixlen);
  }
  ~NlAddr() {
    if (p) nl_addr_put(p);
  }
};

template <class T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p) Free(p);
  }
};

void free_cache(nl_cache* c) { nl_cache_free(c); }
void put_route(rtnl_route* r) { rtnl_route_put(r); }

// One nexthop; libnl's weight is the kernel's rtnh_hops (= weight - 1).
rtnl_nexthop* build_nexthop(const std::optional<IpAddress>& gateway, int oif, int weight) {
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) return nullptr;
  rtnl_route_nh_set_ifindex(nh, oif);
  if (gateway) {
    NlAddr gw(*gateway, gateway->is_v4() ? 32 : 128);
    rtnl_route_nh_set_gateway(nh, gw.p);
  }
  if (weight > 1) rtnl_route_nh_set_weight(nh, static_cast<uint8_t>(std::min(weight, 256) - 1));
  return nh;
}

// A route object for add/delete: our protocol, the table, default dst, its
// nexthop(s) (none for unreachable/blackhole).
Result<rtnl_route*> build_route(const Route& r) {
  rtnl_route* route = rtnl_route_alloc();
  if (!route) return make_error("out of memory building route " + r.to_string());
  rtnl_route_set_family(route, r.family);
  rtnl_route_set_table(route, r.table);
  rtnl_route_set_protocol(route, kOwnedProtocol);
  NlAddr dst(r.dst.addr.valid() ? r.dst.addr : IpAddress{r.family, {}}, r.dst.length);
  rtnl_route_set_dst(route, dst.p);
  if (r.type != RouteType::unicast) {
    rtnl_route_set_type(route, r.type == RouteType::unreachable ? RTN_UNREACHABLE : RTN_BLACKHOLE);
    rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
    return route;
  }
  rtnl_route_set_type(route, RTN_UNICAST);
  bool via = r.gateway.has_value();
  for (const auto& nh : r.multipath) via = via || nh.gateway.has_value();
  rtnl_route_set_scope(route, via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  std::vector<Nexthop> paths = r.multipath;
  if (paths.empty()) paths.push_back({r.gateway, r.oif, 1});
  for (const auto& p : paths) {
    rtnl_nexthop* nh = build_nexthop(p.gateway, p.oif, p.weight);
    if (!nh) {
      rtnl_route_put(route);
      return make_error("out of memory building route " + r.to_string());
    }
    rtnl_route_add_nexthop(route, nh);
  }
  return route;
}

}  // namespace

Result<std::unique_ptr<LibnlNetlink>> LibnlNetlink::open() {
  nl_sock* sock = nl_socket_alloc();
  if (!sock) return make_error("netlink: cannot allocate a socket");
  if (int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
    nl_socket_free(sock);
    return make_error("netlink: cannot connect NETLINK_ROUTE: " + nl_error(err));
  }
  return std::unique_ptr<LibnlNetlink>(new LibnlNetlink(sock));
}

LibnlNetlink::~LibnlNetlink() { nl_socket_free(sock_); }

Result<std::vector<RouteEntry>> LibnlNetlink::list_default_routes() {
  Owned<nl_cache, free_cache> cache;
  if (int err = rtnl_route_alloc_cache(sock_, AF_UNSPEC, 0, &cache.p); err < 0)
    return make_error("netlink: dumping routes failed: " + nl_error(err));
  std::vector<RouteEntry> out;
  for (nl_object* o = nl_cache_get_first(cache.p); o; o = nl_cache_get_next(o)) {
    auto* route = reinterpret_cast<rtnl_route*>(o);
    nl_addr* dst = rtnl_route_get_dst(route);
    // Other prefixes only when they are ours: modules own routes for
    // prefixes too (a tunnel's allowed IPs, a private APN's routes).
    bool is_default = !dst || nl_addr_get_prefixlen(dst) == 0;
    if (!is_default && rtnl_route_get_protocol(route) != kOwnedProtocol) continue;
    int type = rtnl_route_get_type(route);
    if (type != RTN_UNICAST && type != RTN_UNREACHABLE && type != RTN_BLACKHOLE) continue;
    int family = rtnl_route_get_family(route);
    if (family != AF_INET && family != AF_INET6) continue;
    RouteEntry e;
    e.protocol = rtnl_route_get_protocol(route);
    e.route.family = family;
    e.route.table = rtnl_route_get_table(route);
    e.route.dst.addr.family = family;
    if (!is_default) {
      e.route.dst.addr = from_nl(dst);
      e.route.dst.length = static_cast<int>(nl_addr_get_prefixlen(dst));
    }
    if (type != RTN_UNICAST) {
      // IPv6 reports `dev lo` for these: not a path, left out so that the
      // read-back equals what we asked for.
      e.route.type = type == RTN_UNREACHABLE ? RouteType::unreachable : RouteType::blackhole;
    } else if (int n = rtnl_route_get_nnexthops(route); n == 1) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(route, 0);
      e.route.oif = rtnl_route_nh_get_ifindex(nh);
      if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) e.route.gateway = from_nl(gw);
    } else {
      for (int i = 0; i < n; ++i) {
        rtnl_nexthop* nh = rtnl_route_nexthop_n(route, i);
        Nexthop p{.gateway = std::nullopt, .oif = rtnl_route_nh_get_ifindex(nh), .weight = rtnl_route_nh_get_weight(nh) + 1};
        if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) p.gateway = from_nl(gw);
        e.route.multipath.push_back(p);
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<void> LibnlNetlink::add_route(const Route& r) {
  auto route = build_route(r);
  if (!route) return route.error();
  Owned<rtnl_route, put_route> guard{*route};
  if (int err = rtnl_route_add(sock_, *route, NLM_F_CREATE | NLM_F_REPLACE); err < 0)
    return make_error("netlink: adding route " + r.to_string() + " failed: " + nl_error(err));
  return {};
}

Result<void> LibnlNetlink::delete_route(const Route& r) {
  auto route = build_route(r);
  if (!route) return route.error();
  Owned<rtnl_route, put_route> guard{*route};
  if (int err = rtnl_route_delete(sock_, *route, 0); err < 0)
    return make_error("netlink: deleting route " + r.to_string() + " failed: " + nl_error(err));
  return {};
}

// --- rules, raw

namespace {

struct RuleDump {
  std::vector<RuleEntry> rules;
};

int parse_rule(nl_msg* msg, void* arg) {
  auto* dump = static_cast<RuleDump*>(arg);
  nlmsghdr* nlh = nlmsg_hdr(msg);
  if (nlh->nlmsg_type != RTM_NEWRULE) return NL_OK;
  auto* frh = static_cast<fib_rule_hdr*>(nlmsg_data(nlh));
  nlattr* tb[FRA_MAX + 1];
  if (nlmsg_parse(nlh, sizeof(*frh), tb, FRA_MAX, nullptr) < 0) return NL_SKIP;
  if (frh->family != AF_INET && frh->family != AF_INET6) return NL_OK;
  RuleEntry e;
  Rule& r = e.rule;
  r.family = frh->family;
  r.priority = tb[FRA_PRIORITY] ? nla_get_u32(tb[FRA_PRIORITY]) : 0;
  r.fwmark = tb[FRA_FWMARK] ? nla_get_u32(tb[FRA_FWMARK]) : 0;
  r.fwmask = tb[FRA_FWMASK] ? nla_get_u32(tb[FRA_FWMASK]) : (r.fwmark ? 0xffffffff : 0);
  r.table = tb[FRA_TABLE] ? nla_get_u32(tb[FRA_TABLE]) : frh->table;
  if (tb[FRA_SRC]) {
    IpPrefix p;
    p.addr.family = frh->family;
    memcpy(p.addr.bytes.data(), nla_data(tb[FRA_SRC]), std::min<size_t>(nla_len(tb[FRA_SRC]), 16));
    p.length = frh->src_len;
    r.src = p;
  }
  switch (frh->action) {
    case FR_ACT_TO_TBL: r.action = RuleAction::lookup; break;
    case FR_ACT_UNREACHABLE: r.action = RuleAction::unreachable; r.table = 0; break;
    case FR_ACT_BLACKHOLE: r.action = RuleAction::blackhole; r.table = 0; break;
    default: return NL_OK;  // goto, nop, prohibit: never ours
  }
  if (tb[FRA_SUPPRESS_PREFIXLEN]) {
    auto v = nla_get_u32(tb[FRA_SUPPRESS_PREFIXLEN]);
    r.suppress_prefixlen = v == 0xffffffff ? -1 : int(v);
  }
  e.protocol = tb[FRA_PROTOCOL] ? nla_get_u8(tb[FRA_PROTOCOL]) : 0;
  dump->rules.push_back(std::move(e));
  return NL_OK;
}

}  // namespace

Result<std::vector<RuleEntry>> LibnlNetlink::list_rules() {
  fib_rule_hdr hdr{};
  hdr.family = AF_UNSPEC;
  if (int err = nl_send_simple(sock_, RTM_GETRULE, NLM_F_DUMP, &hdr, sizeof hdr); err < 0)
    return make_error("netlink: rule dump request failed: " + nl_error(err));
  RuleDump dump;
  nl_cb* base = nl_socket_get_cb(sock_);  // takes a reference
  nl_cb* cb = nl_cb_clone(base);
  nl_cb_put(base);
  nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, parse_rule, &dump);
  int err = nl_recvmsgs(sock_, cb);
  nl_cb_put(cb);
  if (err < 0) return make_error("netlink: reading the rule dump failed: " + nl_error(err));
  return dump.rules;
}

Result<void> LibnlNetlink::rule_request(int type, int flags, const Rule& r) {
  nl_msg* msg = nlmsg_alloc_simple(type, flags);
  if (!msg) return make_error("out of memory building rule " + r.to_string());
  fib_rule_hdr hdr{};
  hdr.family = r.family;
  hdr.table = r.action == RuleAction::lookup && r.table < 256 ? r.table : 0;
  hdr.action = r.action == RuleAction::lookup        ? FR_ACT_TO_TBL
               : r.action == RuleAction::unreachable ? FR_ACT_UNREACHABLE
                                                     : FR_ACT_BLACKHOLE;
  if (r.src) hdr.src_len = r.src->length;
  bool ok = nlmsg_append(msg, &hdr, sizeof hdr, NLMSG_ALIGNTO) >= 0 &&
            nla_put_u32(msg, FRA_PRIORITY, r.priority) >= 0 && nla_put_u8(msg, FRA_PROTOCOL, kOwnedProtocol) >= 0;
  if (ok && r.action == RuleAction::lookup) ok = nla_put_u32(msg, FRA_TABLE, r.table) >= 0;
  if (ok && r.fwmask) ok = nla_put_u32(msg, FRA_FWMARK, r.fwmark) >= 0 && nla_put_u32(msg, FRA_FWMASK, r.fwmask) >= 0;
  if (ok && r.src) ok = nla_put(msg, FRA_SRC, int(r.src->addr.byte_len()), r.src->addr.bytes.data()) >= 0;
  if (ok && r.suppress_prefixlen >= 0) ok = nla_put_u32(msg, FRA_SUPPRESS_PREFIXLEN, r.suppress_prefixlen) >= 0;
  if (!ok) {
    nlmsg_free(msg);
    return make_error("netlink: building rule " + r.to_string() + " failed");
  }
  int err = nl_send_sync(sock_, msg);  // frees msg, waits for the ACK
  if (err < 0)
    return make_error(std::string("netlink: ") + (type == RTM_NEWRULE ? "adding" : "deleting") + " rule " +
                      r.to_string() + " failed: " + nl_error(err));
  return {};
}

Result<void> LibnlNetlink::add_rule(const Rule& r) { return rule_request(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, r); }
Result<void> LibnlNetlink::delete_rule(const Rule& r) { return rule_request(RTM_DELRULE, 0, r); }

// --- links and addresses

Result<std::vector<LinkInfo>> LibnlNetlink::list_links() {
  Owned<nl_cache, free_cache> cache;
  if (int err = rtnl_link_alloc_cache(sock_, AF_UNSPEC, &cache.p); err < 0)
    return make_error("netlink: dumping links failed: " + nl_error(err));
  std::vector<LinkInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.p); o; o = nl_cache_get_next(o)) {
    auto* link = reinterpret_cast<rtnl_link*>(o);
    unsigned flags = rtnl_link_get_flags(link);
    const char* name = rtnl_link_get_name(link);
    out.push_back({rtnl_link_get_ifindex(link), name ? name : "", (flags & IFF_UP) != 0,
                   (flags & (1u << 16)) != 0 /* IFF_LOWER_UP */, (flags & (IFF_POINTOPOINT | IFF_NOARP)) != 0});
  }
  return out;
}

Result<std::vector<AddressInfo>> LibnlNetlink::list_addresses() {
  Owned<nl_cache, free_cache> cache;
  if (int err = rtnl_addr_alloc_cache(sock_, &cache.p); err < 0)
    return make_error("netlink: dumping addresses failed: " + nl_error(err));
  std::vector<AddressInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.p); o; o = nl_cache_get_next(o)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(o);
    IpAddress a = from_nl(rtnl_addr_get_local(addr));
    if (!a.valid()) continue;
    out.push_back({rtnl_addr_get_ifindex(addr), IpPrefix{a, rtnl_addr_get_prefixlen(addr)}});
  }
  return out;
}

Result<void> LibnlNetlink::add_address(int ifindex, const IpPrefix& prefix) {
  rtnl_addr* addr = rtnl_addr_alloc();
  if (!addr) return make_error("netlink: adding address " + prefix.to_string() + ": out of memory");
  struct Put {
    rtnl_addr* a;
    ~Put() { rtnl_addr_put(a); }
  } put{addr};
  NlAddr local(prefix.addr, prefix.length);
  if (!local.p) return make_error("netlink: adding address " + prefix.to_string() + ": out of memory");
  rtnl_addr_set_ifindex(addr, ifindex);
  rtnl_addr_set_family(addr, prefix.addr.family);
  if (int err = rtnl_addr_set_local(addr, local.p); err < 0)
    return make_error("netlink: adding address " + prefix.to_string() + " failed: " + nl_error(err));
  rtnl_addr_set_prefixlen(addr, prefix.length);
  int err = rtnl_addr_add(sock_, addr, 0);
  if (err < 0 && err != -NLE_EXIST)
    return make_error("netlink: adding address " + prefix.to_string() + " to ifindex " + std::to_string(ifindex) +
                      " failed: " + nl_error(err));
  return {};
}

Result<void> LibnlNetlink::delete_address(int ifindex, const IpPrefix& prefix) {
  rtnl_addr* addr = rtnl_addr_alloc();
  if (!addr) return make_error("netlink: deleting address " + prefix.to_string() + ": out of memory");
  struct Put {
    rtnl_addr* a;
    ~Put() { rtnl_addr_put(a); }
  } put{addr};
  NlAddr local(prefix.addr, prefix.length);
  if (!local.p) return make_error("netlink: deleting address " + prefix.to_string() + ": out of memory");
  rtnl_addr_set_ifindex(addr, ifindex);
  rtnl_addr_set_family(addr, prefix.addr.family);
  if (int err = rtnl_addr_set_local(addr, local.p); err < 0)
    return make_error("netlink: deleting address " + prefix.to_string() + " failed: " + nl_error(err));
  rtnl_addr_set_prefixlen(addr, prefix.length);
  int err = rtnl_addr_delete(sock_, addr, 0);
  if (err < 0 && err != -NLE_NOADDR && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV)
    return make_error("netlink: deleting address " + prefix.to_string() + " from ifindex " + std::to_string(ifindex) +
                      " failed: " + nl_error(err));
  return {};
}

namespace {

// One RTM_NEWLINK change of `ifindex`: `set` fills the requested attributes.
Result<void> change_link(nl_sock* sock, int ifindex, const std::function<void(rtnl_link*)>& set,
                         const std::string& what) {
  rtnl_link* orig = rtnl_link_alloc();
  rtnl_link* change = rtnl_link_alloc();
  struct Put {
    rtnl_link* a;
    rtnl_link* b;
    ~Put() {
      if (a) rtnl_link_put(a);
      if (b) rtnl_link_put(b);
    }
  } put{orig, change};
  if (!orig || !change) return make_error("netlink: " + what + ": out of memory");
  rtnl_link_set_ifindex(orig, ifindex);
  set(change);
  if (int err = rtnl_link_change(sock, orig, change, 0); err < 0)
    return make_error("netlink: " + what + " failed: " + nl_error(err));
  return {};
}

}  // namespace

Result<void> LibnlNetlink::set_link_mtu(int ifindex, int mtu) {
  return change_link(
      sock_, ifindex, [mtu](rtnl_link* l) { rtnl_link_set_mtu(l, static_cast<unsigned>(mtu)); },
      "setting the MTU of link " + std::to_string(ifindex) + " to " + std::to_string(mtu));
}

Result<void> LibnlNetlink::set_link_up(int ifindex, bool up) {
  return change_link(
      sock_, ifindex,
      [up](rtnl_link* l) {
        if (up) rtnl_link_set_flags(l, IFF_UP);
        else rtnl_link_unset_flags(l, IFF_UP);
      },
      "setting link " + std::to_string(ifindex) + (up ? " up" : " down"));
}

}  // namespace uplink
