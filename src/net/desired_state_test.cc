#include "net/desired_state.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "net/testing/sample_config.h"

namespace uplink {
namespace {

using testing::address;
using testing::prefix;
using testing::sample_config;

InterfaceFactsMap sample_facts() {
  InterfaceFactsMap f;
  f["eth1"] = {.ifindex = 11, .up = true, .addresses = {{address("198.18.1.2"), 24}, {address("fe80::1"), 64}}};
  f["eth2"] = {.ifindex = 12,
               .up = true,
               .addresses = {{address("198.18.2.2"), 24}, {address("2001:db8:2::2"), 64}},
               .gateway4 = address("198.18.2.1"),
               .gateway6 = address("fe80::2")};
  f["wwan0"] = {.ifindex = 13, .up = true, .point_to_point = true, .addresses = {{address("10.64.1.7"), 32}}};
  return f;
}

Decisions sample_decisions() {
  return {{"default", {{{"wan1", 3}, {"wan2", 1}}}}, {"cellular", {}}};
}

TEST(DesiredState, NftRulesetIsExact) {
  auto ks = build_kernel_state(sample_config(), sample_decisions(), sample_facts());
  ASSERT_TRUE(ks.ok()) << ks.error().message;
  EXPECT_EQ(ks->nft.render(), R"(table inet uplinkd {
	set sticky_lan_wan1_v4 {
		type ipv4_addr; size 65535; flags dynamic,timeout; timeout 600s;
	}
	set sticky_lan_wan2_v4 {
		type ipv4_addr; size 65535; flags dynamic,timeout; timeout 600s;
	}
	set sticky_lan_cell1_v4 {
		type ipv4_addr; size 65535; flags dynamic,timeout; timeout 600s;
	}
	chain link_wan1 {
		meta mark set meta mark & 0xffff00ff | 0x00000100
		ct mark set ct mark & 0xffff80ff | 0x00000100
	}
	chain restore_wan1 {
		meta mark set meta mark & 0xffff00ff | 0x00000100
	}
	chain link_wan2 {
		meta mark set meta mark & 0xffff00ff | 0x00000200
		ct mark set ct mark & 0xffff80ff | 0x00000200
	}
	chain restore_wan2 {
		meta mark set meta mark & 0xffff00ff | 0x00000200
	}
	chain link_cell1 {
		meta mark set meta mark & 0xffff00ff | 0x00000300
		ct mark set ct mark & 0xffff80ff | 0x00000300
	}
	chain restore_cell1 {
		meta mark set meta mark & 0xffff00ff | 0x00000300
	}
	chain last_resort_unreachable {
		meta mark set meta mark & 0xffff00ff | 0x00007f00
	}
	chain last_resort_blackhole {
		meta mark set meta mark & 0xffff00ff | 0x00007e00
	}
	chain policy_default {
		numgen random mod 4 vmap { 0-2 : goto link_wan1, 3 : goto link_wan2 }
	}
	chain policy_cellular {
		goto last_resort_blackhole
	}
	chain sticky_lan {
		ip saddr @sticky_lan_wan1_v4 update @sticky_lan_wan1_v4 { ip saddr } goto link_wan1
		ip saddr @sticky_lan_wan2_v4 update @sticky_lan_wan2_v4 { ip saddr } goto link_wan2
		jump policy_default
		meta mark & 0x00007f00 == 0x00000100 update @sticky_lan_wan1_v4 { ip saddr }
		meta mark & 0x00007f00 == 0x00000200 update @sticky_lan_wan2_v4 { ip saddr }
	}
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ct mark & 0x00007f00 vmap { 0x00000100 : goto restore_wan1, 0x00000200 : goto restore_wan2, 0x00000300 : goto restore_cell1 }
		ct direction reply return
		iifname vmap { "eth1" : goto link_wan1, "eth2" : goto link_wan2, "wwan0" : goto link_cell1 }
		meta l4proto udp th dport { 5060, 10000-20000 } goto policy_cellular comment "voip"
		ip saddr 192.168.50.0/24 ct mark set ct mark | 0x00008000 goto sticky_lan comment "lan"
		goto policy_default comment "all"
	}
	chain output {
		type route hook output priority mangle; policy accept;
		meta mark & 0x00007f00 != 0 return
		ct mark & 0x00007f00 vmap { 0x00000100 : goto restore_wan1, 0x00000200 : goto restore_wan2, 0x00000300 : goto restore_cell1 }
		ct direction reply return
		ip daddr 203.0.113.0/24 goto policy_cellular comment "router"
		goto policy_default comment "all"
	}
}
)");
  EXPECT_EQ(ks->nft.sticky_sets, (std::set<std::string>{"sticky_lan_wan1_v4", "sticky_lan_wan2_v4"}));
}

// sample_config + a private APN on cell1 (10.200.0.0/16), a tunnel vpn1 and
// a private policy for the SCADA VLAN, its rule after a public one.
Config private_config() {
  Config c = sample_config();
  c.links["cell1"].private_routes = {prefix("10.200.0.0/16")};
  LinkConfig vpn;
  vpn.name = "vpn1";
  vpn.kind = LinkKind::wireguard;
  vpn.interface = "wg0";
  vpn.table = 104;
  vpn.fwmark = 0x400;
  c.links[vpn.name] = vpn;
  c.link_order.push_back(vpn.name);
  PolicyConfig p;
  p.name = "private";
  p.members = {{"cell1", 1, 1}, {"vpn1", 2, 1}};
  p.is_private = true;
  c.policies[p.name] = p;
  c.policy_order.push_back(p.name);
  RuleConfig scada;
  scada.name = "scada";
  scada.source = prefix("192.168.60.0/24");
  scada.policy = "private";
  c.rules.insert(c.rules.begin() + 1, scada);  // voip, scada, lan, router, all
  return c;
}

TEST(DesiredState, PrivateGuardDropsPrivateTrafficOnPublicLinesOnly) {
  auto c = private_config();
  EXPECT_EQ(private_guard_body(c, false), (std::vector<std::string>{
      "type filter hook forward priority filter; policy accept;",
      "oifname != { \"eth1\", \"eth2\", \"wwan0\" } return",  // the tunnel is no public line
      "ip daddr 10.200.0.0/16 oifname \"wwan0\" return comment \"cell1 private_routes\"",
      "ip daddr { 10.200.0.0/16 } counter drop comment \"private network\"",
      // first match wins, as in prerouting: voip's flows are not the private policy's
      "ct direction original meta l4proto udp th dport { 5060, 10000-20000 } return",
      "ct direction original ip saddr 192.168.60.0/24 counter drop comment \"rule scada private\""}));
  // Router-originated: no private rule is local; the private network is still guarded.
  EXPECT_EQ(private_guard_body(c, true), (std::vector<std::string>{
      "type filter hook output priority filter; policy accept;",
      "oifname != { \"eth1\", \"eth2\", \"wwan0\" } return",
      "ip daddr 10.200.0.0/16 oifname \"wwan0\" return comment \"cell1 private_routes\"",
      "ip daddr { 10.200.0.0/16 } counter drop comment \"private network\""}));

  auto ks = build_kernel_state(c, sample_decisions(), sample_facts());
  ASSERT_TRUE(ks.ok()) << ks.error().message;
  EXPECT_NE(ks->nft.guard.find("\tchain private_guard_forward {\n"), std::string::npos) << ks->nft.guard;
  EXPECT_NE(ks->nft.guard.find("\tchain private_guard_output {\n"), std::string::npos) << ks->nft.guard;
  EXPECT_EQ(ks->nft.guard.find("policy_"), std::string::npos) << "the guard stands alone: " << ks->nft.guard;
  EXPECT_NE(ks->nft.skeleton.find(ks->nft.guard), std::string::npos);
  // A decision never touches it: it is outside the rewritten chains.
  Decisions moved = sample_decisions();
  moved["private"] = PolicyDecision{{{"vpn1", 1}}};
  auto ks2 = build_kernel_state(c, moved, sample_facts());
  ASSERT_TRUE(ks2.ok());
  EXPECT_EQ(ks2->nft.skeleton, ks->nft.skeleton);
}

TEST(DesiredState, NoGuardWithoutAPrivateNetwork) {
  EXPECT_TRUE(private_guard_body(sample_config(), false).empty());
  auto ks = build_kernel_state(sample_config(), sample_decisions(), sample_facts());
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->nft.guard, "");
}

TEST(DesiredState, PrivateCatchAllGuardsEverythingOnPublicLinesAndStopsThere) {
  auto c = private_config();
  c.rules = {c.rules[0], c.rules[1]};
  RuleConfig all;
  all.name = "all";
  all.policy = "private";
  c.rules.push_back(all);
  auto out = private_guard_body(c, true);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), "ct direction original counter drop comment \"rule all private\"");
  auto fwd = private_guard_body(c, false);
  EXPECT_EQ(fwd.back(), "ct direction original counter drop comment \"rule all private\"");
  EXPECT_EQ(fwd[fwd.size() - 2], "ct direction original ip saddr 192.168.60.0/24 counter drop comment \"rule scada private\"");
}

TEST(DesiredState, PolicyChainBodies) {
  PolicyConfig p;
  p.last_resort = LastResort::unreachable;
  EXPECT_EQ(policy_chain_body(p, {}), std::vector<std::string>{"goto last_resort_unreachable"});
  p.last_resort = LastResort::main;
  EXPECT_EQ(policy_chain_body(p, {}), std::vector<std::string>{"return"});
  EXPECT_EQ(policy_chain_body(p, {{{"wan2", 5}}}), std::vector<std::string>{"goto link_wan2"});
  EXPECT_EQ(policy_chain_body(p, {{{"a", 1}, {"b", 1}, {"c", 2}}}),
            std::vector<std::string>{"numgen random mod 4 vmap { 0 : goto link_a, 1 : goto link_b, 2-3 : goto link_c }"});
}

TEST(DesiredState, OnlyThePolicyChainChangesWithADecision) {
  auto a = build_kernel_state(sample_config(), sample_decisions(), sample_facts());
  auto d = sample_decisions();
  d["default"] = {{{"cell1", 1}}};
  auto b = build_kernel_state(sample_config(), d, sample_facts());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->nft.skeleton, b->nft.skeleton);
  EXPECT_EQ(a->rules, b->rules);
  // Routes: only the default of router-originated traffic (table 99) follows the decision.
  auto link_tables = [](const KernelState& ks) {
    std::vector<Route> out;
    for (const auto& r : ks.routes)
      if (r.table != 99) out.push_back(r);
    return out;
  };
  EXPECT_EQ(link_tables(*a), link_tables(*b));
  std::vector<std::string> local;
  for (const auto& r : b->routes)
    if (r.table == 99) local.push_back(r.to_string());
  EXPECT_EQ(local, std::vector<std::string>{"default oif 13 table 99"});
  EXPECT_EQ(b->nft.chains.at("policy_default"), std::vector<std::string>{"goto link_cell1"});
  EXPECT_EQ(a->nft.chains.at("policy_cellular"), b->nft.chains.at("policy_cellular"));
}

TEST(DesiredState, StickyChainHonoursOnlyTheActiveLinks) {
  auto d = sample_decisions();
  d["default"] = {{{"cell1", 1}}};
  auto ks = build_kernel_state(sample_config(), d, sample_facts());
  ASSERT_TRUE(ks.ok()) << ks.error().message;
  EXPECT_EQ(ks->nft.chains.at("sticky_lan"),
            (std::vector<std::string>{
                "ip saddr @sticky_lan_cell1_v4 update @sticky_lan_cell1_v4 { ip saddr } goto link_cell1",
                "jump policy_default",
                "meta mark & 0x00007f00 == 0x00000300 update @sticky_lan_cell1_v4 { ip saddr }",
            }));
  EXPECT_EQ(ks->nft.sticky_sets, std::set<std::string>{"sticky_lan_cell1_v4"});
  // The sets of inactive links stay declared: only the chain changes with a decision.
  auto a = build_kernel_state(sample_config(), sample_decisions(), sample_facts());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->nft.skeleton, ks->nft.skeleton);

  d["default"] = {};  // last resort: nothing to pin to
  ks = build_kernel_state(sample_config(), d, sample_facts());
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->nft.chains.at("sticky_lan"), std::vector<std::string>{"goto policy_default"});
  EXPECT_TRUE(ks->nft.sticky_sets.empty());
}

TEST(DesiredState, StickyRuleWithoutAddressesPinsBothFamilies) {
  auto c = sample_config();
  c.rules[0].sticky = std::chrono::milliseconds(1500);  // voip (udp ports, no address): policy cellular = cell1
  auto ks = build_kernel_state(c, sample_decisions(), sample_facts());
  ASSERT_TRUE(ks.ok()) << ks.error().message;
  auto text = ks->nft.skeleton;
  EXPECT_NE(text.find("\tset sticky_voip_cell1_v4 {\n\t\ttype ipv4_addr; size 65535; flags dynamic,timeout; timeout 1500ms;\n\t}\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("\tset sticky_voip_cell1_v6 {\n\t\ttype ipv6_addr; size 65535; flags dynamic,timeout; timeout 1500ms;\n\t}\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("meta l4proto udp th dport { 5060, 10000-20000 } ct mark set ct mark | 0x00008000 goto sticky_voip "
                      "comment \"voip\""),
            std::string::npos) << text;
  // cellular is at its last resort in sample_decisions(): then cell1 becomes active.
  auto d = sample_decisions();
  d["cellular"] = {{{"cell1", 1}}};
  ks = build_kernel_state(c, d, sample_facts());
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->nft.chains.at("sticky_voip"),
            (std::vector<std::string>{
                "ip saddr @sticky_voip_cell1_v4 update @sticky_voip_cell1_v4 { ip saddr } goto link_cell1",
                "ip6 saddr @sticky_voip_cell1_v6 update @sticky_voip_cell1_v6 { ip6 saddr } goto link_cell1",
                "jump policy_cellular",
                "meta mark & 0x00007f00 == 0x00000300 update @sticky_voip_cell1_v4 { ip saddr }",
                "meta mark & 0x00007f00 == 0x00000300 update @sticky_voip_cell1_v6 { ip6 saddr }",
            }));
}

TEST(DesiredState, StickyWithoutDurationOnlyMarksTheFlow) {
  auto c = sample_config();
  c.rules[1].sticky = Duration::zero();
  auto ks = build_kernel_state(c, sample_decisions(), sample_facts());
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->nft.skeleton.find("sticky_lan"), std::string::npos);
  EXPECT_NE(ks->nft.skeleton.find("ct mark set ct mark | 0x00008000 goto policy_default comment \"lan\""),
            std::string::npos);
  EXPECT_TRUE(ks->nft.sticky_sets.empty());
}

TEST(DesiredState, RejectsStickyNamesThatCollide) {
  auto c = sample_config();
  auto a = c.rules[1], b = c.rules[1];
  a.name = "lan.x";  // both become sticky_lan_x in nft
  b.name = "lan_x";
  c.rules.insert(c.rules.begin() + 2, {a, b});
  auto r = validate_for_kernel(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "rule lan_x: its nftables name sticky_lan_x is also used by rule lan.x; rename one of them");
  c.rules.erase(c.rules.begin() + 3);
  EXPECT_TRUE(validate_for_kernel(c).ok());
}

TEST(DesiredState, RoutesPerLinkTable) {
  auto ks = build_kernel_state(sample_config(), sample_decisions(), sample_facts());
  ASSERT_TRUE(ks.ok());
  std::vector<std::string> got;
  for (const auto& r : ks->routes) got.push_back(r.to_string());
  EXPECT_EQ(got, (std::vector<std::string>{
                     "default via 198.18.1.1 oif 11 table 101",     // configured gateway
                     "default via 198.18.2.1 oif 12 table 102",     // learned
                     "-6 default via fe80::2 oif 12 table 102",     // learned (RA)
                     "default oif 13 table 103",                    // point-to-point, no gateway
                     // router-originated traffic: the catch-all's policy, wan1:3 + wan2:1
                     "default nexthop via 198.18.1.1 oif 11 weight 3 nexthop via 198.18.2.1 oif 12 weight 1 table 99",
                     "-6 default via fe80::2 oif 12 table 99",      // wan1 has no IPv6: wan2 alone
                 }));
  EXPECT_TRUE(ks->warnings.empty());
}

std::vector<std::string> local_routes(const Config& c, const Decisions& d, const InterfaceFactsMap& f) {
  auto ks = build_kernel_state(c, d, f);
  EXPECT_TRUE(ks.ok()) << ks.error().message;
  std::vector<std::string> out;
  if (!ks.ok()) return out;
  for (const auto& r : ks->routes)
    if (r.table == 99) out.push_back(r.to_string());
  // The rule that sends unmarked (router) lookups there, after P+0, both families.
  for (int family : {AF_INET, AF_INET6}) {
    Rule want;
    want.family = family;
    want.priority = 10900;
    want.table = 99;
    EXPECT_EQ(std::count(ks->rules.begin(), ks->rules.end(), want), 1) << "family " << family;
  }
  return out;
}

TEST(DesiredState, RouterTrafficTableFollowsTheCatchAllPolicy) {
  auto c = sample_config();
  auto d = sample_decisions();
  d["default"] = {{{"wan2", 1}}};
  EXPECT_EQ(local_routes(c, d, sample_facts()),
            (std::vector<std::string>{"default via 198.18.2.1 oif 12 table 99", "-6 default via fe80::2 oif 12 table 99"}));
  d["default"] = {};  // last resorts
  EXPECT_EQ(local_routes(c, d, sample_facts()),
            (std::vector<std::string>{"unreachable default table 99", "-6 unreachable default table 99"}));
  c.policies["default"].last_resort = LastResort::blackhole;
  EXPECT_EQ(local_routes(c, d, sample_facts()),
            (std::vector<std::string>{"blackhole default table 99", "-6 blackhole default table 99"}));
  c.policies["default"].last_resort = LastResort::main;
  EXPECT_EQ(local_routes(c, d, sample_facts()), std::vector<std::string>{});  // the main table decides
  // An active link whose interface is down cannot carry it: the other one does.
  auto f = sample_facts();
  f["eth1"].up = false;
  EXPECT_EQ(local_routes(c, sample_decisions(), f),
            (std::vector<std::string>{"default via 198.18.2.1 oif 12 table 99", "-6 default via fe80::2 oif 12 table 99"}));
}

TEST(DesiredState, RouterTrafficTableFollowsTheFirstRuleForAllLocalTraffic) {
  auto c = sample_config();
  // `router` (local, 203.0.113.0/24 only) is skipped; a local rule without
  // selectors before the catch-all wins.
  RuleConfig local;
  local.name = "own";
  local.local = true;
  local.policy = "cellular";
  c.rules.insert(c.rules.begin() + 3, local);
  EXPECT_EQ(local_routes(c, sample_decisions(), sample_facts()),
            (std::vector<std::string>{"blackhole default table 99", "-6 blackhole default table 99"}));
  const Decisions cellular_up = {{"default", {}}, {"cellular", {{{"cell1", 1}}}}};
  EXPECT_EQ(local_routes(c, cellular_up, sample_facts()),
            std::vector<std::string>{"default oif 13 table 99"});  // wwan0 has no IPv6
  c.rules.clear();  // no rule: no route, the rule stays (harmless, no churn)
  EXPECT_EQ(local_routes(c, sample_decisions(), sample_facts()), std::vector<std::string>{});
}

TEST(DesiredState, Ipv6NextHopConfiguredLearnedOrPointToPoint) {
  auto c = sample_config();
  auto f = sample_facts();
  f["eth1"].addresses.push_back({address("2001:db8:1::2"), 64});
  f["wwan0"].addresses.push_back({address("2001:db8:3::2"), 64});
  auto v6_routes = [](const KernelState& ks) {
    std::vector<std::string> out;
    for (const auto& r : ks.routes)
      if (r.family == AF_INET6 && r.table != 99) out.push_back(r.to_string());
    return out;
  };
  // Ethernet eth1 with a global address but no IPv6 next hop: no default
  // (the router would solicit every remote address itself), one warning.
  auto ks = build_kernel_state(c, sample_decisions(), f);
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(v6_routes(*ks), (std::vector<std::string>{"-6 default via fe80::2 oif 12 table 102",
                                                       "-6 default oif 13 table 103"}));  // point-to-point
  EXPECT_EQ(ks->warnings, std::vector<std::string>{
                              "link wan1: no IPv6 next hop (set links.wan1.gateway6, or a kernel IPv6 default route on "
                              "eth1) and eth1 is not point-to-point: its table gets no IPv6 default route"});
  // Configured gateway6 beats the learned one; an IPv6 `gateway` still works.
  c.links["wan1"].gateway6 = address("2001:db8:1::1");
  c.links["wan2"].gateway6 = address("2001:db8:2::1");
  c.links["cell1"].gateway = address("2001:db8:3::1");
  ks = build_kernel_state(c, sample_decisions(), f);
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(v6_routes(*ks), (std::vector<std::string>{"-6 default via 2001:db8:1::1 oif 11 table 101",
                                                       "-6 default via 2001:db8:2::1 oif 12 table 102",
                                                       "-6 default via 2001:db8:3::1 oif 13 table 103"}));
  EXPECT_TRUE(ks->warnings.empty());
  // Learned from the kernel when not configured.
  c = sample_config();
  f["eth1"].gateway6 = address("fe80::1:1");
  ks = build_kernel_state(c, sample_decisions(), f);
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(v6_routes(*ks).front(), "-6 default via fe80::1:1 oif 11 table 101");
  EXPECT_TRUE(ks->warnings.empty());
}

TEST(DesiredState, RouterTrafficTableMustNotClash) {
  auto c = sample_config();
  c.links["wan2"].table = 99;
  auto r = validate_for_kernel(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "link wan2: table 99 is uplinkd's table for router-originated traffic (daemon.table_base - 1); choose another");
  c = sample_config();
  c.daemon.table_base = 254;
  r = validate_for_kernel(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "daemon.table_base 254: uplinkd's table for router-originated traffic is table_base - 1 = 253, which is not "
            "a usable table id; choose another table_base");
}

TEST(DesiredState, RulesInPriorityRange) {
  auto ks = build_kernel_state(sample_config(), sample_decisions(), sample_facts());
  ASSERT_TRUE(ks.ok());
  std::vector<std::string> v4;
  for (const auto& r : ks->rules) {
    EXPECT_GE(r.priority, 10000u);
    EXPECT_LT(r.priority, 11000u);
    if (r.family == AF_INET) v4.push_back(r.to_string());
  }
  EXPECT_EQ(v4, (std::vector<std::string>{
                    "pref 10000 lookup 254 suppress_prefixlength 0",
                    "pref 10001 fwmark 0x7f00/0x7f00 unreachable",
                    "pref 10002 fwmark 0x7e00/0x7f00 blackhole",
                    "pref 10100 fwmark 0x100/0x7f00 lookup 101",
                    "pref 10101 fwmark 0x200/0x7f00 lookup 102",
                    "pref 10102 fwmark 0x300/0x7f00 lookup 103",
                    "pref 10500 from 198.18.1.2/32 lookup 101",
                    "pref 10501 from 198.18.2.2/32 lookup 102",
                    "pref 10502 from 10.64.1.7/32 lookup 103",
                    "pref 10900 lookup 99",
                }));
  // IPv6: the global address of eth2 gets a rule, link-local fe80::1 does not.
  int from6 = 0;
  for (const auto& r : ks->rules)
    if (r.family == AF_INET6 && r.src) {
      ++from6;
      EXPECT_EQ(r.src->to_string(), "2001:db8:2::2/128");
    }
  EXPECT_EQ(from6, 1);
}

TEST(DesiredState, MissingInterfaceHasNoRoutesButKeepsItsMarkRule) {
  auto facts = sample_facts();
  facts.erase("wwan0");
  auto ks = build_kernel_state(sample_config(), sample_decisions(), facts);
  ASSERT_TRUE(ks.ok());
  for (const auto& r : ks->routes) EXPECT_NE(r.table, 103u);
  EXPECT_TRUE(std::any_of(ks->rules.begin(), ks->rules.end(), [](const Rule& r) { return r.table == 103 && r.fwmark == 0x300; }));
}

TEST(DesiredState, NoRoutesWhileTheInterfaceIsDown) {
  auto facts = sample_facts();
  facts["eth1"].up = false;
  auto ks = build_kernel_state(sample_config(), sample_decisions(), facts);
  ASSERT_TRUE(ks.ok());
  for (const auto& r : ks->routes) EXPECT_NE(r.table, 101u);
  // Its address rule stays: it is harmless and avoids churn on a flap.
  EXPECT_TRUE(std::any_of(ks->rules.begin(), ks->rules.end(), [](const Rule& r) { return r.src && r.table == 101; }));
}

TEST(DesiredState, RejectsMarksThatCollide) {
  auto c = sample_config();
  c.links["wan2"].fwmark = 0x7f00;
  auto r = validate_for_kernel(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("link wan2: fwmark 0x7f00 is reserved"), std::string::npos) << r.error().message;
  c = sample_config();
  c.links["wan2"].fwmark = 0x100;
  r = validate_for_kernel(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("already used by link wan1"), std::string::npos) << r.error().message;
  c = sample_config();
  c.links["wan2"].fwmark = 0x8200;  // sticky bit
  EXPECT_FALSE(validate_for_kernel(c).ok());
  c = sample_config();
  c.rules[0].policy = "nope";
  EXPECT_FALSE(validate_for_kernel(c).ok());
}

TEST(MarkLayout, FromDefaultMask) {
  auto m = MarkLayout::from_mask(0xff00);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->sticky_bit, 0x8000u);
  EXPECT_EQ(m->link_mask, 0x7f00u);
  EXPECT_EQ(m->unreachable, 0x7f00u);
  EXPECT_EQ(m->blackhole, 0x7e00u);
  EXPECT_FALSE(MarkLayout::from_mask(0x3).ok());
}

}  // namespace
}  // namespace uplink
