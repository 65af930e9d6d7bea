#include "net/desired_state.h"

#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "common/strings.h"

namespace uplink {

namespace {

std::string sanitize(const std::string& name) {
  std::string s = name;
  for (auto& c : s)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return s;
}

std::string hex8(uint32_t v) {
  char buf[16];
  snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::vector<std::string> ordered_links(const Config& config) {
  std::vector<std::string> order = config.link_order;
  for (const auto& [name, l] : config.links)
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  std::erase_if(order, [&](const std::string& n) { return !config.links.count(n); });
  return order;
}

std::vector<std::string> ordered_policies(const Config& config) {
  std::vector<std::string> order = config.policy_order;
  for (const auto& [name, p] : config.policies)
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  std::erase_if(order, [&](const std::string& n) { return !config.policies.count(n); });
  return order;
}

bool is_link_local_v6(const IpAddress& a) { return a.is_v6() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80; }

std::string ports(const std::vector<PortRange>& ranges) {
  std::string s;
  for (const auto& r : ranges) {
    if (!s.empty()) s += ", ";
    s += std::to_string(r.first);
    if (r.last != r.first) s += "-" + std::to_string(r.last);
  }
  return "{ " + s + " }";
}

// The match part of one [[rules]] entry in nft syntax ("" for the catch-all).
std::string rule_match(const RuleConfig& r) {
  std::vector<std::string> parts;
  if (r.input_interface) parts.push_back("iifname \"" + *r.input_interface + "\"");
  if (r.source) parts.push_back(std::string(r.source->addr.is_v4() ? "ip" : "ip6") + " saddr " + r.source->to_string());
  if (r.destination)
    parts.push_back(std::string(r.destination->addr.is_v4() ? "ip" : "ip6") + " daddr " + r.destination->to_string());
  if (r.protocol) parts.push_back("meta l4proto " + (*r.protocol == "icmpv6" ? std::string("ipv6-icmp") : *r.protocol));
  if (!r.source_ports.empty()) parts.push_back("th sport " + ports(r.source_ports));
  if (!r.destination_ports.empty()) parts.push_back("th dport " + ports(r.destination_ports));
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : " ") + p;
  return s;
}

// `meta mark set meta mark & ~mask | value`: touch only our bits.
std::string set_meta_mark(const MarkLayout& m, uint32_t value) {
  return "meta mark set meta mark & " + hex8(~m.mask) + " | " + hex8(value);
}

// Families a rule can match: an address selector of one family rules out the other.
std::vector<int> rule_families(const RuleConfig& r) {
  for (const auto* p : {&r.source, &r.destination})
    if (*p) return {(*p)->addr.family};
  return {AF_INET, AF_INET6};
}

// nft time: whole seconds when exact, else milliseconds (rounded up, nft's granularity).
std::string nft_timeout(Duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// Member links of a policy that exist, in member order, without repeats.
std::vector<std::string> member_links(const Config& config, const std::string& policy) {
  std::vector<std::string> out;
  auto p = config.policies.find(policy);
  if (p == config.policies.end()) return out;
  for (const auto& m : p->second.members)
    if (config.links.count(m.link) && std::find(out.begin(), out.end(), m.link) == out.end()) out.push_back(m.link);
  return out;
}

// The default route of a link's table for one family: its next hop, or
// nothing (no address/next hop of that family, interface down or absent).
// IPv4 without a gateway: a device route (point-to-point, or proxy ARP).
// IPv6 without a gateway: a device route only on a point-to-point/NOARP
// interface; on Ethernet the router would solicit every remote address itself.
std::optional<Nexthop> link_next_hop(const LinkConfig& l, const InterfaceFactsMap& facts, int family,
                                     std::vector<std::string>* warnings) {
  auto it = facts.find(l.interface);
  if (it == facts.end() || it->second.ifindex == 0 || !it->second.up) return std::nullopt;
  const InterfaceFacts& f = it->second;
  std::optional<IpAddress> gw;
  if (family == AF_INET) gw = l.gateway && l.gateway->is_v4() ? l.gateway : f.gateway4;
  else gw = l.gateway6 ? l.gateway6 : l.gateway && l.gateway->is_v6() ? l.gateway : f.gateway6;
  if (gw) return Nexthop{gw, f.ifindex, 1};
  bool has_address = std::any_of(f.addresses.begin(), f.addresses.end(), [&](const IpPrefix& a) {
    return a.addr.family == family && !is_link_local_v6(a.addr);
  });
  if (!has_address) return std::nullopt;
  if (family == AF_INET6 && !f.point_to_point) {
    if (warnings)
      warnings->push_back("link " + l.name + ": no IPv6 next hop (set links." + l.name +
                          ".gateway6, or a kernel IPv6 default route on " + l.interface + ") and " + l.interface +
                          " is not point-to-point: its table gets no IPv6 default route");
    return std::nullopt;
  }
  return Nexthop{std::nullopt, f.ifindex, 1};
}

Route default_route(int family, uint32_t table) {
  Route r;
  r.family = family;
  r.table = table;
  r.dst.addr.family = family;
  return r;
}

}  // namespace

uint32_t local_table(const Config& config) { return config.daemon.table_base - 1; }

const RuleConfig* local_default_rule(const Config& config) {
  for (const auto& r : config.rules)
    if ((r.is_catch_all() || r.local) && rule_match(r).empty()) return &r;
  return nullptr;
}

std::optional<Route> local_default_route(const Config& config, const Decisions& decisions,
                                         const InterfaceFactsMap& facts, int family) {
  const RuleConfig* rule = local_default_rule(config);
  if (!rule || !config.policies.count(rule->policy)) return std::nullopt;
  auto d = decisions.find(rule->policy);
  Route r = default_route(family, local_table(config));
  if (d == decisions.end() || d->second.active.empty()) {
    switch (config.policies.at(rule->policy).last_resort) {
      case LastResort::unreachable: r.type = RouteType::unreachable; return r;
      case LastResort::blackhole: r.type = RouteType::blackhole; return r;
      case LastResort::main: return std::nullopt;  // the main table decides
    }
  }
  std::vector<Nexthop> paths;
  for (const auto& m : d->second.active) {
    auto l = config.links.find(m.link);
    if (l == config.links.end()) continue;
    auto nh = link_next_hop(l->second, facts, family, nullptr);
    if (!nh) continue;
    nh->weight = std::clamp(m.weight, 1, 256);
    paths.push_back(*nh);
  }
  if (paths.empty()) return std::nullopt;  // no active link has this family: the main table decides
  if (paths.size() == 1) {
    r.gateway = paths.front().gateway;
    r.oif = paths.front().oif;
  } else {
    r.multipath = std::move(paths);
  }
  return r;
}

std::string policy_chain(const std::string& policy) { return "policy_" + sanitize(policy); }
std::string link_chain(const std::string& link) { return "link_" + sanitize(link); }
std::string sticky_chain(const std::string& rule) { return "sticky_" + sanitize(rule); }
std::string sticky_set(const std::string& rule, const std::string& link, int family) {
  return "sticky_" + sanitize(rule) + "_" + sanitize(link) + (family == AF_INET ? "_v4" : "_v6");
}

std::vector<std::string> sticky_chain_body(const Config& config, const RuleConfig& rule,
                                           const PolicyDecision& decision, std::set<std::string>* sets) {
  const std::string policy = policy_chain(rule.policy);
  auto marks = MarkLayout::from_mask(config.daemon.fwmark_mask);
  auto members = member_links(config, rule.policy);
  std::vector<std::string> links;  // active links that have sets, in decision order
  for (const auto& m : decision.active)
    if (std::find(members.begin(), members.end(), m.link) != members.end()) links.push_back(m.link);
  if (links.empty() || !marks) return {"goto " + policy};  // last resort: nothing to pin to
  std::vector<std::string> lookups, pins;
  for (const auto& link : links) {
    for (int family : rule_families(rule)) {
      const std::string set = "@" + sticky_set(rule.name, link, family);
      const std::string saddr = family == AF_INET ? "ip saddr" : "ip6 saddr";
      // A pinned source: refresh its timeout, keep its link.
      lookups.push_back(saddr + " " + set + " update " + set + " { " + saddr + " } goto " + link_chain(link));
      // Chosen afresh by the policy: pin the source to the link just chosen.
      pins.push_back("meta mark & " + hex8(marks->link_mask) + " == " + hex8(config.links.at(link).fwmark) +
                     " update " + set + " { " + saddr + " }");
      if (sets) sets->insert(set.substr(1));
    }
  }
  std::vector<std::string> body = std::move(lookups);
  body.push_back("jump " + policy);  // the link chain it reaches returns here
  body.insert(body.end(), pins.begin(), pins.end());
  return body;
}

std::vector<std::string> policy_chain_body(const PolicyConfig& policy, const PolicyDecision& decision) {
  if (decision.active.empty()) {
    switch (policy.last_resort) {
      case LastResort::unreachable: return {"goto last_resort_unreachable"};
      case LastResort::blackhole: return {"goto last_resort_blackhole"};
      case LastResort::main: return {"return"};  // no mark: the main table decides
    }
  }
  if (decision.active.size() == 1) return {"goto " + link_chain(decision.active.front().link)};
  int total = 0;
  for (const auto& m : decision.active) total += std::max(m.weight, 1);
  std::string map;
  int next = 0;
  for (const auto& m : decision.active) {
    int w = std::max(m.weight, 1);
    std::string key = w == 1 ? std::to_string(next) : std::to_string(next) + "-" + std::to_string(next + w - 1);
    map += (map.empty() ? "" : ", ") + key + " : goto " + link_chain(m.link);
    next += w;
  }
  return {"numgen random mod " + std::to_string(total) + " vmap { " + map + " }"};
}

std::vector<std::string> private_guard_body(const Config& config, bool output) {
  std::vector<std::string> publics;  // quoted interface names
  std::vector<std::pair<const LinkConfig*, IpPrefix>> covered;  // (line, private prefix it reaches)
  std::vector<std::string> net_v4, net_v6;
  for (const auto& name : ordered_links(config)) {
    const auto& l = config.links.at(name);
    if (l.kind == LinkKind::wireguard) continue;  // encrypted: never a public line
    std::string quoted = "\"" + l.interface + "\"";
    if (std::find(publics.begin(), publics.end(), quoted) == publics.end()) publics.push_back(quoted);
    for (const auto& p : l.private_routes) {
      covered.emplace_back(&l, p);
      auto& net = p.addr.is_v4() ? net_v4 : net_v6;
      if (std::find(net.begin(), net.end(), p.to_string()) == net.end()) net.push_back(p.to_string());
    }
  }
  size_t last_private = 0;  // rules after the last private one cannot change the verdict
  for (size_t i = 0; i < config.rules.size(); ++i) {
    auto p = config.policies.find(config.rules[i].policy);
    if (p != config.policies.end() && p->second.is_private) last_private = i + 1;
  }
  if (publics.empty() || (net_v4.empty() && net_v6.empty() && last_private == 0)) return {};

  auto daddr = [](const IpPrefix& p) { return std::string(p.addr.is_v4() ? "ip" : "ip6") + " daddr " + p.to_string(); };
  std::vector<std::string> body = {
      std::string("type filter hook ") + (output ? "output" : "forward") + " priority filter; policy accept;",
      "oifname != { " + join(publics, "", ", ") + " } return"};
  for (const auto& [l, p] : covered)
    body.push_back(daddr(p) + " oifname \"" + l->interface + "\" return comment \"" + sanitize(l->name) + " private_routes\"");
  if (!net_v4.empty()) body.push_back("ip daddr { " + join(net_v4, "", ", ") + " } counter drop comment \"private network\"");
  if (!net_v6.empty()) body.push_back("ip6 daddr { " + join(net_v6, "", ", ") + " } counter drop comment \"private network\"");
  for (size_t i = 0; i < last_private; ++i) {
    const auto& r = config.rules[i];
    if (!(r.is_catch_all() || r.local == output)) continue;  // the other hook classifies it
    const auto& policy = config.policies.at(r.policy);
    std::string match = "ct direction original";
    if (auto m = rule_match(r); !m.empty()) match += " " + m;
    if (!policy.is_private) {
      body.push_back(match + " return");  // classified by a public rule first
    } else {  // (a destination its line's private_routes cover has returned above)
      body.push_back(match + " counter drop comment \"rule " + sanitize(r.name) + " private\"");
    }
    if (r.is_catch_all()) break;
  }
  return body;
}

Result<void> validate_for_kernel(const Config& config) {
  auto marks = MarkLayout::from_mask(config.daemon.fwmark_mask);
  if (!marks) return marks.error();
  auto links = ordered_links(config);
  if (links.size() > kPriorityFromBase - kPriorityMarkBase)
    return make_error("too many links (" + std::to_string(links.size()) + ") for the rule priority range");
  if (uint64_t(config.daemon.rule_priority_base) + kPrioritySpan > 32766)
    return make_error("daemon.rule_priority_base " + std::to_string(config.daemon.rule_priority_base) +
                      " + 999 would reach the main table rule (32766)");
  const uint32_t local = local_table(config);
  if (config.daemon.table_base < 2 || (local >= 253 && local <= 255))
    return make_error("daemon.table_base " + std::to_string(config.daemon.table_base) +
                      ": uplinkd's table for router-originated traffic is table_base - 1 = " + std::to_string(local) +
                      ", which is not a usable table id; choose another table_base");
  std::map<uint32_t, std::string> marks_seen, tables_seen;
  for (const auto& name : links) {
    const auto& l = config.links.at(name);
    if (auto why = marks->check_link_mark(l.fwmark))
      return make_error("link " + name + ": fwmark " + MarkLayout::hex(l.fwmark) + " " + *why);
    if (auto [it, fresh] = marks_seen.emplace(l.fwmark, name); !fresh)
      return make_error("link " + name + ": fwmark " + MarkLayout::hex(l.fwmark) + " already used by link " + it->second);
    if (l.table == 0 || l.table == 253 || l.table == 254 || l.table == 255)
      return make_error("link " + name + ": table " + std::to_string(l.table) + " is reserved by the kernel");
    if (l.table == local)
      return make_error("link " + name + ": table " + std::to_string(l.table) +
                        " is uplinkd's table for router-originated traffic (daemon.table_base - 1); choose another");
    if (auto [it, fresh] = tables_seen.emplace(l.table, name); !fresh)
      return make_error("link " + name + ": table " + std::to_string(l.table) + " already used by link " + it->second);
  }
  for (const auto& [pname, p] : config.policies)
    for (const auto& m : p.members)
      if (!config.links.count(m.link))
        return make_error("policy " + pname + ": member " + m.link + " is not a link");
  std::map<std::string, std::string> sticky_names;  // nft chain/set name -> rule
  for (const auto& r : config.rules) {
    if (!config.policies.count(r.policy))
      return make_error("rule " + r.name + ": policy " + r.policy + " does not exist");
    if (!pins_sources(r)) continue;
    std::vector<std::string> names = {sticky_chain(r.name)};
    for (const auto& link : member_links(config, r.policy))
      for (int family : rule_families(r)) names.push_back(sticky_set(r.name, link, family));
    for (const auto& n : names)
      if (auto [it, fresh] = sticky_names.emplace(n, r.name); !fresh)
        return make_error("rule " + r.name + ": its nftables name " + n + " is also used by rule " + it->second +
                          "; rename one of them");
  }
  return {};
}

Result<KernelState> build_kernel_state(const Config& config, const Decisions& decisions,
                                       const InterfaceFactsMap& facts) {
  if (auto ok = validate_for_kernel(config); !ok) return ok.error();
  const auto marks = *MarkLayout::from_mask(config.daemon.fwmark_mask);
  const uint32_t base = config.daemon.rule_priority_base;
  const auto links = ordered_links(config);
  KernelState ks;

  // --- rules and routes
  auto rule = [&](int family, uint32_t priority, uint32_t mark, RuleAction action, uint32_t table) -> Rule& {
    Rule r;
    r.family = family;
    r.priority = base + priority;
    r.fwmark = mark;
    r.fwmask = mark ? marks.link_mask : 0;
    r.action = action;
    r.table = table;
    return ks.rules.emplace_back(r);
  };
  for (int family : {AF_INET, AF_INET6}) {
    rule(family, kPrioritySuppress, 0, RuleAction::lookup, kMainTable).suppress_prefixlen = 0;
    rule(family, kPriorityUnreachable, marks.unreachable, RuleAction::unreachable, 0);
    rule(family, kPriorityBlackhole, marks.blackhole, RuleAction::blackhole, 0);
  }
  for (size_t i = 0; i < links.size(); ++i) {
    const auto& l = config.links.at(links[i]);
    for (int family : {AF_INET, AF_INET6})
      rule(family, kPriorityMarkBase + uint32_t(i), l.fwmark, RuleAction::lookup, l.table);
    auto f = facts.find(l.interface);
    if (f == facts.end() || f->second.ifindex == 0) continue;
    for (const auto& a : f->second.addresses) {
      if (is_link_local_v6(a.addr)) continue;
      rule(a.addr.family, kPriorityFromBase + uint32_t(i), 0, RuleAction::lookup, l.table).src =
          IpPrefix{a.addr, a.addr.is_v4() ? 32 : 128};
    }
    for (int family : {AF_INET, AF_INET6}) {
      auto nh = link_next_hop(l, facts, family, &ks.warnings);
      if (!nh) continue;
      Route r = default_route(family, l.table);
      r.gateway = nh->gateway;
      r.oif = nh->oif;
      ks.routes.push_back(r);
    }
  }
  // Router-originated traffic: a socket's route lookup happens before the
  // output chain marks the packet, so unmarked lookups need a route of their
  // own: the one the local/catch-all rule's policy picks now (replaced with
  // every decision). After P+0, which hides main's default routes, so a
  // DHCP default route cannot give the router a dead link's source address.
  for (int family : {AF_INET, AF_INET6}) {
    rule(family, kPriorityLocal, 0, RuleAction::lookup, local_table(config));
    if (auto r = local_default_route(config, decisions, facts, family)) ks.routes.push_back(*r);
  }
  std::sort(ks.rules.begin(), ks.rules.end());
  ks.rules.erase(std::unique(ks.rules.begin(), ks.rules.end()), ks.rules.end());

  // --- nftables
  std::string t = "table inet " + std::string(kNftTable) + " {\n";
  auto chain = [&](const std::string& name, const std::vector<std::string>& lines) {
    t += "\tchain " + name + " {\n";
    for (const auto& l : lines) t += "\t\t" + l + "\n";
    t += "\t}\n";
  };
  // Sticky source pins: sets first, the chains below refer to them. The size
  // is explicit: the kernel gives a set without one a size when the first
  // `update` rule refers to it, which would change the listing the
  // programmer compares (and make it reload, emptying the pins).
  for (const auto& r : config.rules) {
    if (!pins_sources(r)) continue;
    for (const auto& link : member_links(config, r.policy))
      for (int family : rule_families(r))
        t += "\tset " + sticky_set(r.name, link, family) + " {\n\t\ttype " +
             (family == AF_INET ? "ipv4_addr" : "ipv6_addr") + "; size " + std::to_string(kStickySetSize) +
             "; flags dynamic,timeout; timeout " + nft_timeout(*r.sticky) + ";\n\t}\n";
  }
  const std::string keep_ours = hex8(~marks.link_mask);  // ct mark: keep the sticky bit and others' bits
  std::string restore_map, iif_map;
  for (const auto& name : links) {
    const auto& l = config.links.at(name);
    // Classify into the link: packet mark for routing, ct mark so the flow stays.
    chain(link_chain(name), {set_meta_mark(marks, l.fwmark),
                             "ct mark set ct mark & " + keep_ours + " | " + hex8(l.fwmark)});
    chain("restore_" + sanitize(name), {set_meta_mark(marks, l.fwmark)});
    restore_map += (restore_map.empty() ? "" : ", ") + hex8(l.fwmark) + " : goto restore_" + sanitize(name);
    iif_map += (iif_map.empty() ? "" : ", ") + ("\"" + l.interface + "\"") + " : goto " + link_chain(name);
  }
  chain("last_resort_unreachable", {set_meta_mark(marks, marks.unreachable)});
  chain("last_resort_blackhole", {set_meta_mark(marks, marks.blackhole)});
  for (const auto& pname : ordered_policies(config)) {
    chain(policy_chain(pname), {});
    auto d = decisions.find(pname);
    ks.nft.chains[policy_chain(pname)] =
        policy_chain_body(config.policies.at(pname), d == decisions.end() ? PolicyDecision{} : d->second);
  }
  for (const auto& r : config.rules) {
    if (!pins_sources(r)) continue;
    chain(sticky_chain(r.name), {});
    auto d = decisions.find(r.policy);
    ks.nft.chains[sticky_chain(r.name)] =
        sticky_chain_body(config, r, d == decisions.end() ? PolicyDecision{} : d->second, &ks.nft.sticky_sets);
  }

  std::vector<std::string> pre = {"type filter hook prerouting priority mangle; policy accept;"};
  std::vector<std::string> out = {"type route hook output priority mangle; policy accept;",
                                  // The socket chose its link (probes, tunnels with SO_MARK): leave it.
                                  "meta mark & " + hex8(marks.link_mask) + " != 0 return"};
  for (auto* c : {&pre, &out}) {
    if (!restore_map.empty())
      c->push_back("ct mark & " + hex8(marks.link_mask) + " vmap { " + restore_map + " }");
    c->push_back("ct direction reply return");
  }
  // A flow that arrives from a WAN is answered through the same WAN.
  if (!iif_map.empty()) pre.push_back("iifname vmap { " + iif_map + " }");
  for (const auto& r : config.rules) {
    std::string match = rule_match(r);
    std::string line = match;
    if (r.sticky) line += (line.empty() ? "" : " ") + ("ct mark set ct mark | " + hex8(marks.sticky_bit));
    line += (line.empty() ? "" : " ") + ("goto " + (pins_sources(r) ? sticky_chain(r.name) : policy_chain(r.policy)));
    line += " comment \"" + sanitize(r.name) + "\"";
    if (r.is_catch_all() || !r.local) pre.push_back(line);
    if (r.is_catch_all() || r.local) out.push_back(line);
  }
  chain("prerouting", pre);
  chain("output", out);
  // Private traffic never on a public line (see private_guard_body).
  const size_t guard_at = t.size();
  for (bool output : {false, true})
    if (auto body = private_guard_body(config, output); !body.empty())
      chain(output ? "private_guard_output" : "private_guard_forward", body);
  ks.nft.guard = t.substr(guard_at);
  t += "}\n";
  ks.nft.skeleton = std::move(t);
  return ks;
}

}  // namespace uplink
