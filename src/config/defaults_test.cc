// Good configurations: defaults, automatic table ids and fwmarks.
#include <gtest/gtest.h>

#include "common/units.h"
#include "config/loader.h"

namespace uplink {
namespace {

std::string link_block(const std::string& name, const std::string& iface, const std::string& extra = "",
                       const std::string& kind = "ethernet") {
  return "[links." + name + "]\nkind = \"" + kind + "\"\ninterface = \"" + iface + "\"\n" + extra + "[links." + name +
         ".probe]\ntargets = [\"203.0.113.1\"]\n";
}

TEST(Defaults, EmptyFileIsAValidConfigWithDaemonDefaults) {
  Config c = parse_config("", "empty.toml");
  EXPECT_EQ(c.path, "empty.toml");
  EXPECT_EQ(c.daemon.socket, "/run/uplinkd/control.sock");
  EXPECT_EQ(c.daemon.state_dir, "/var/lib/uplinkd");
  EXPECT_EQ(c.daemon.hooks_dir, "/etc/uplinkd/hooks.d");
  EXPECT_EQ(c.daemon.hook_timeout, Duration(10s));
  EXPECT_EQ(c.daemon.log_level, "info");
  EXPECT_EQ(c.daemon.table_base, 100u);
  EXPECT_EQ(c.daemon.fwmark_base, 0x100u);
  EXPECT_EQ(c.daemon.fwmark_mask, 0xff00u);
  EXPECT_EQ(c.daemon.rule_priority_base, 10000u);
  EXPECT_TRUE(c.links.empty());
  EXPECT_TRUE(c.rules.empty());
}

TEST(Defaults, EthernetLink) {
  Config c = parse_config(link_block("wan1", "eth1"), "t.toml");
  const LinkConfig& l = c.links.at("wan1");
  EXPECT_EQ(l.name, "wan1");
  EXPECT_EQ(l.kind, LinkKind::ethernet);
  EXPECT_FALSE(l.metered);
  EXPECT_TRUE(l.enabled);
  EXPECT_FALSE(l.gateway.has_value());
  EXPECT_EQ(l.probe.method, ProbeMethod::icmp);
  EXPECT_EQ(l.probe.interval, Duration(1s));
  EXPECT_EQ(l.probe.fast_interval, Duration(100ms));
  EXPECT_FALSE(l.probe.timeout.has_value());  // auto
  EXPECT_EQ(l.probe.reliability, 1);
  EXPECT_EQ(l.probe.down_after, 3);
  EXPECT_EQ(l.probe.up_after, 5);
  EXPECT_EQ(l.probe.targets.at(0).port, 0);  // icmp has no port
  EXPECT_FALSE(l.quality.has_value());
  EXPECT_TRUE(l.modem.empty());
}

TEST(Defaults, CellularIsMetered) {
  Config c = parse_config(link_block("cell1", "wwan0", "", "cellular"), "t.toml");
  const LinkConfig& l = c.links.at("cell1");
  EXPECT_TRUE(l.metered);
  EXPECT_EQ(l.probe.interval, Duration(1s));  // cheap through one-target rounds, not a long interval
  EXPECT_EQ(l.probe.fast_interval, Duration(100ms));
  EXPECT_EQ(l.modem, "any");
  EXPECT_EQ(l.sim_slot, 0);
}

TEST(Defaults, CellularExplicitValuesWin) {
  Config c = parse_config(link_block("cell1", "wwan0", "metered = false\n", "cellular") + "interval = \"2s\"\n", "t");
  EXPECT_FALSE(c.links.at("cell1").metered);
  EXPECT_EQ(c.links.at("cell1").probe.interval, Duration(2s));
}

TEST(Defaults, FastIntervalNeverExceedsAShortInterval) {
  Config c = parse_config(link_block("wan1", "eth1") + "interval = \"50ms\"\n", "t");
  EXPECT_EQ(c.links.at("wan1").probe.fast_interval, Duration(50ms));
}

TEST(Defaults, PortsByMethod) {
  for (auto [method, port] : {std::pair{"udp", 7}, {"tcp", 80}, {"dns", 53}, {"http", 80}}) {
    Config c = parse_config(link_block("wan1", "eth1") + "method = \"" + method + "\"\n", "t");
    EXPECT_EQ(c.links.at("wan1").probe.targets.at(0).port, port) << method;
  }
}

TEST(Defaults, PolicyAndRule) {
  Config c = parse_config(link_block("wan1", "eth1") +
                              "[policies.p]\nmembers = [{ link = \"wan1\" }]\n[[rules]]\nname = \"all\"\npolicy = \"p\"\n",
                          "t");
  const PolicyConfig& p = c.policies.at("p");
  EXPECT_EQ(p.mode, PolicyMode::failover);
  EXPECT_EQ(p.last_resort, LastResort::unreachable);
  EXPECT_EQ(p.members.at(0).tier, 1);
  EXPECT_EQ(p.members.at(0).weight, 1);
  const RuleConfig& r = c.rules.at(0);
  EXPECT_TRUE(r.is_catch_all());
  EXPECT_FALSE(r.local);
  EXPECT_FALSE(r.sticky.has_value());
}

TEST(AutoIds, TablesFollowFileOrderNotNameOrder) {
  Config c = parse_config(link_block("zeta", "eth1") + link_block("alpha", "eth2") + link_block("mid", "eth3"), "t");
  EXPECT_EQ(c.link_order, (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_EQ(c.links.at("zeta").table, 100u);
  EXPECT_EQ(c.links.at("alpha").table, 101u);
  EXPECT_EQ(c.links.at("mid").table, 102u);
  EXPECT_EQ(c.links.at("zeta").fwmark, 0x100u);
  EXPECT_EQ(c.links.at("alpha").fwmark, 0x200u);
  EXPECT_EQ(c.links.at("mid").fwmark, 0x300u);
}

TEST(AutoIds, AutoIdsSkipExplicitOnes) {
  // b claims 101 and 0x100, which a and c would otherwise get.
  Config c = parse_config(
      link_block("a", "eth1") + link_block("b", "eth2", "table = 100\nfwmark = 0x100\n") + link_block("c", "eth3"), "t");
  EXPECT_EQ(c.links.at("a").table, 101u);  // 100 is b's
  EXPECT_EQ(c.links.at("b").table, 100u);
  EXPECT_EQ(c.links.at("c").table, 102u);
  EXPECT_EQ(c.links.at("a").fwmark, 0x200u);
  EXPECT_EQ(c.links.at("b").fwmark, 0x100u);
  EXPECT_EQ(c.links.at("c").fwmark, 0x300u);
}

TEST(AutoIds, TablesSkipKernelReservedIds) {
  Config c = parse_config("[daemon]\ntable_base = 252\n" + link_block("a", "eth1") + link_block("b", "eth2"), "t");
  EXPECT_EQ(c.links.at("a").table, 252u);
  EXPECT_EQ(c.links.at("b").table, 256u);  // 253 default, 254 main, 255 local
}

TEST(AutoIds, MarksStayInsideTheMask) {
  // Mask 0xf0000: sticky bit 0x80000, link bits 0x70000, of which 0x70000
  // (unreachable) and 0x60000 (blackhole) are last_resort's.
  Config c = parse_config("[daemon]\nfwmark_mask = 0xf0000\nfwmark_base = 0x10000\n" + link_block("a", "eth1") +
                              link_block("b", "eth2", "fwmark = 0x20000\n") + link_block("c", "eth3"),
                          "t");
  EXPECT_EQ(c.links.at("a").fwmark, 0x10000u);
  EXPECT_EQ(c.links.at("b").fwmark, 0x20000u);
  EXPECT_EQ(c.links.at("c").fwmark, 0x30000u);
  for (const auto& [n, l] : c.links) EXPECT_EQ(l.fwmark & ~0x70000u, 0u) << n;
}

TEST(AutoIds, RunningOutOfMarksIsAnError) {
  try {
    // From base 0x40000 under mask 0xf0000: a 0x40000, b 0x50000; c's 0x60000
    // and 0x70000 are last_resort's, 0x80000 is the sticky bit.
    parse_config("[daemon]\nfwmark_mask = 0xf0000\nfwmark_base = 0x40000\n" + link_block("a", "eth1") +
                     link_block("b", "eth2") + link_block("c", "eth3"),
                 "t");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 14);  // [links.c]: 3 daemon lines + 2 links of 5 lines
    EXPECT_EQ(e.message(), "links.c: no free fwmark left inside daemon.fwmark_mask 0xf0000 (too many links)");
  }
}

TEST(ArchitectureExample, VerbatimFailsOnlyBecauseItIsAnExcerpt) {
  // ARCHITECTURE.md §3 shows an excerpt: cell1 has no probe targets and the
  // policy names wan2, which the excerpt does not define. Both are errors by
  // the contract ("a link without probe targets", "a policy naming a missing link").
  try {
    load_config_file(UPLINK_CONFIG_TESTDATA "/architecture_example.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 28);
    EXPECT_EQ(e.column(), 1);
    EXPECT_EQ(e.message(), "links.cell1: missing [links.cell1.probe] with targets (every link needs probe targets)");
  }
}

TEST(ArchitectureExample, CompletedExampleParsesWithEveryValue) {
  // The verbatim text plus [links.cell1.probe] and [links.wan2] appended.
  std::string text;
  ASSERT_TRUE(read_text_file(UPLINK_CONFIG_TESTDATA "/architecture_example.toml", text));
  text += "\n[links.cell1.probe]\ntargets = [\"203.0.113.1\"]\n" + link_block("wan2", "eth2");
  Config c = parse_config(text, "arch.toml");
  EXPECT_EQ(c.link_order, (std::vector<std::string>{"wan1", "cell1", "wan2"}));
  EXPECT_EQ(c.daemon.hooks_dir, "/etc/uplinkd/hooks.d");
  const LinkConfig& w = c.links.at("wan1");
  EXPECT_EQ(w.gateway->to_string(), "198.18.1.1");
  EXPECT_EQ(w.probe.targets.size(), 3u);
  EXPECT_EQ(w.probe.reliability, 2);
  EXPECT_EQ(w.probe.fast_interval, Duration(100ms));
  EXPECT_EQ(w.probe.down_after, 3);
  EXPECT_EQ(w.probe.up_after, 5);
  EXPECT_EQ(w.quality->max_latency, Duration(150ms));
  EXPECT_EQ(w.quality->max_loss, 5.0);
  EXPECT_EQ(w.quality->max_jitter, Duration(30ms));
  EXPECT_DOUBLE_EQ(w.quality->recover_ratio, 0.7);
  const LinkConfig& cell = c.links.at("cell1");
  EXPECT_EQ(cell.kind, LinkKind::cellular);
  EXPECT_TRUE(cell.metered);
  EXPECT_EQ(cell.modem, "imei:356938035643809");
  EXPECT_EQ(cell.apn, "iot.private");
  EXPECT_EQ(cell.sim_slot, 1);
  EXPECT_EQ(cell.private_routes.at(0).to_string(), "10.200.0.0/16");
  const PolicyConfig& p = c.policies.at("default");
  ASSERT_EQ(p.members.size(), 3u);
  EXPECT_EQ(p.members[0].weight, 3);
  EXPECT_EQ(p.members[2].link, "cell1");
  EXPECT_EQ(p.members[2].tier, 2);
  EXPECT_EQ(c.rules.at(0).sticky, Duration(10min));
  EXPECT_EQ(c.rules.at(0).source->to_string(), "192.168.50.0/24");
}

TEST(EnumNames, RoundTrip) {
  for (auto k : {LinkKind::ethernet, LinkKind::broadband, LinkKind::cellular, LinkKind::wireguard}) {
    EXPECT_EQ(parse_link_kind(to_string(k)), k);
  }
  for (auto m : {ProbeMethod::icmp, ProbeMethod::udp, ProbeMethod::tcp, ProbeMethod::dns, ProbeMethod::http}) {
    EXPECT_EQ(parse_probe_method(to_string(m)), m);
  }
  for (auto m : {PolicyMode::failover, PolicyMode::balance, PolicyMode::quality}) EXPECT_EQ(parse_policy_mode(to_string(m)), m);
  for (auto r : {LastResort::unreachable, LastResort::blackhole, LastResort::main}) {
    EXPECT_EQ(parse_last_resort(to_string(r)), r);
  }
  EXPECT_FALSE(parse_link_kind("lte").has_value());
  EXPECT_EQ(to_string(LinkKind::cellular), "cellular");
}

}  // namespace
}  // namespace uplink
