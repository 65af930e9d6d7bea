#include "net/programmer.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "net/desired_state.h"
#include "net/facts.h"
#include "net/testing/fake_netlink.h"
#include "net/testing/fake_nftables.h"
#include "net/testing/sample_config.h"

namespace uplink {
namespace {

using testing::address;

class ProgrammerTest : public ::testing::Test {
 protected:
  ProgrammerTest() {
    nl.links = {{11, "eth1", true, true}, {12, "eth2", true, true}, {13, "wwan0", true, true}};
    nl.addresses = {{11, {address("198.18.1.2"), 24}}, {12, {address("198.18.2.2"), 24}}, {13, {address("10.64.1.7"), 32}}};
    // Someone else's routes: main default via eth2 (learned gateway), and a table we never touch.
    nl.routes = {{{AF_INET, 254, {{AF_INET}, 0}, address("198.18.2.1"), 12}, 4},
                 {{AF_INET, 50, {{AF_INET}, 0}, address("198.18.9.9"), 11}, 3}};
    nl.rules = {{{.family = AF_INET, .priority = 100, .table = 50}, 0}};
  }

  KernelState desired(const Decisions& d) {
    auto facts = gather_facts(nl, {"eth1", "eth2", "wwan0"});
    EXPECT_TRUE(facts.ok());
    auto ks = build_kernel_state(config, d, *facts);
    EXPECT_TRUE(ks.ok()) << ks.error().message;
    return *ks;
  }

  void expect_kernel_equals(const KernelState& ks) {
    auto want_rules = ks.rules;
    std::sort(want_rules.begin(), want_rules.end());
    EXPECT_EQ(nl.owned_rules(), want_rules);
    EXPECT_EQ(nl.owned_routes().size(), ks.routes.size());
    for (const auto& r : ks.routes)
      EXPECT_NE(std::find(nl.routes.begin(), nl.routes.end(), RouteEntry{r, kOwnedProtocol}), nl.routes.end())
          << r.to_string();
    ASSERT_TRUE(nft.table.has_value());
    EXPECT_EQ(*nft.table, ks.nft.render());
  }

  Config config = testing::sample_config();
  Decisions primary{{"default", {{{"wan1", 3}, {"wan2", 1}}}}, {"cellular", {{{"cell1", 1}}}}};
  Decisions backup{{"default", {{{"cell1", 1}}}}, {"cellular", {{{"cell1", 1}}}}};
  FakeTimeSource time;
  FakeNetlink nl;
  FakeNftables nft;
  Programmer prog{nl, nft, time};
};

TEST_F(ProgrammerTest, FirstApplyProgramsEverythingAndLeavesOthersAlone) {
  auto ks = desired(primary);
  ASSERT_TRUE(prog.apply(ks).ok());
  expect_kernel_equals(ks);
  EXPECT_EQ(nl.routes.size(), 2 + ks.routes.size());  // the two foreign routes are still there
  EXPECT_EQ(nl.rules.size(), 1 + ks.rules.size());
}

TEST_F(ProgrammerTest, ApplyingTheSameStateWritesNothing) {
  auto ks = desired(primary);
  ASSERT_TRUE(prog.apply(ks).ok());
  int writes = nl.writes, reads = nl.reads;
  size_t scripts = nft.scripts.size();
  ASSERT_TRUE(prog.apply(ks).ok());
  EXPECT_EQ(nl.writes, writes);
  EXPECT_EQ(nl.reads, reads);  // the fast path does not read the kernel back
  EXPECT_EQ(nft.scripts.size(), scripts);
}

TEST_F(ProgrammerTest, PolicyChangeIsOneNftTransactionOnOneChain) {
  ASSERT_TRUE(prog.apply(desired(primary)).ok());
  int writes = nl.writes;
  size_t scripts = nft.scripts.size();
  auto ks = desired(backup);
  ASSERT_TRUE(prog.apply(ks).ok());
  // Rules and link tables do not depend on decisions; the default route of
  // router-originated traffic does: one replace.
  EXPECT_EQ(nl.writes, writes + 1);
  EXPECT_EQ(nl.owned_routes().back().to_string(), "default oif 13 table 99");
  ASSERT_EQ(nft.scripts.size(), scripts + 1);
  // The policy chain and the chain of the sticky rule "lan" (policy default),
  // and the pins of the links that left, in one transaction.
  EXPECT_EQ(nft.scripts.back(),
            "flush chain inet uplinkd policy_default\n"
            "add rule inet uplinkd policy_default goto link_cell1\n"
            "flush chain inet uplinkd sticky_lan\n"
            "add rule inet uplinkd sticky_lan ip saddr @sticky_lan_cell1_v4 update @sticky_lan_cell1_v4 { ip saddr } "
            "goto link_cell1\n"
            "add rule inet uplinkd sticky_lan jump policy_default\n"
            "add rule inet uplinkd sticky_lan meta mark & 0x00007f00 == 0x00000300 update @sticky_lan_cell1_v4 { ip saddr }\n"
            "flush set inet uplinkd sticky_lan_wan1_v4\n"
            "flush set inet uplinkd sticky_lan_wan2_v4\n");
  expect_kernel_equals(ks);
  // Back to primary: cell1's pins go, wan1/wan2 start empty (flushed when they left).
  ASSERT_TRUE(prog.apply(desired(primary)).ok());
  EXPECT_EQ(nft.flushed_sets,
            (std::vector<std::string>{"sticky_lan_wan1_v4", "sticky_lan_wan2_v4", "sticky_lan_cell1_v4"}));
}

TEST_F(ProgrammerTest, PolicyChangeKeepsTheTableSoStickyPinsSurviveTheNextSync) {
  ASSERT_TRUE(prog.apply(desired(primary)).ok());
  ASSERT_TRUE(prog.apply(desired(backup)).ok());
  size_t scripts = nft.scripts.size();
  time.advance(std::chrono::seconds(31));  // periodic verification: nothing to repair
  EXPECT_GE(prog.syncs(), 2);
  EXPECT_EQ(nft.scripts.size(), scripts);  // no reload (a reload would empty the sticky sets)
  expect_kernel_equals(desired(backup));
}

TEST_F(ProgrammerTest, ExternalEditBeforeAPolicyChangeIsStillRepaired) {
  auto ks = desired(primary);
  ASSERT_TRUE(prog.apply(ks).ok());
  ASSERT_TRUE(nft.run("flush chain inet uplinkd prerouting\n").ok());  // someone else
  ASSERT_TRUE(prog.apply(desired(backup)).ok());                        // chain update only
  time.advance(std::chrono::milliseconds(60));  // the edit was noticed: sync after the debounce
  expect_kernel_equals(desired(backup));
}

TEST_F(ProgrammerTest, RemovesWhatIsNoLongerDesired) {
  ASSERT_TRUE(prog.apply(desired(primary)).ok());
  config.links.erase("cell1");
  config.link_order.pop_back();
  config.policies["default"].members.pop_back();
  config.policies["cellular"].members = {{"wan2", 1, 1}};
  auto ks = desired({{"default", {{{"wan1", 3}, {"wan2", 1}}}}, {"cellular", {{{"wan2", 1}}}}});
  ASSERT_TRUE(prog.apply(ks).ok());
  expect_kernel_equals(ks);
  for (const auto& r : nl.owned_routes()) EXPECT_NE(r.table, 103u);
}

TEST_F(ProgrammerTest, GatewayChangeReplacesTheRouteInPlace) {
  ASSERT_TRUE(prog.apply(desired(primary)).ok());
  config.links["wan1"].gateway = address("198.18.1.254");
  auto ks = desired(primary);
  ASSERT_TRUE(prog.apply(ks).ok());
  expect_kernel_equals(ks);
}

TEST_F(ProgrammerTest, ReappliesAfterExternalDeleteOnNetlinkEvent) {
  auto ks = desired(primary);
  ASSERT_TRUE(prog.apply(ks).ok());
  // `ip rule del` of our fwmark rule and `ip route flush table 101` by someone else.
  auto it = std::find_if(nl.rules.begin(), nl.rules.end(), [](const RuleEntry& r) { return r.rule.fwmark == 0x100; });
  ASSERT_NE(it, nl.rules.end());
  nl.rules.erase(it);
  std::erase_if(nl.routes, [](const RouteEntry& r) { return r.route.table == 101; });
  prog.schedule_sync();
  prog.schedule_sync();  // debounced: one sync
  int syncs = prog.syncs();
  time.advance(std::chrono::milliseconds(60));
  EXPECT_EQ(prog.syncs(), syncs + 1);
  expect_kernel_equals(ks);
}

TEST_F(ProgrammerTest, NftTableDeletedExternallyIsReloadedByTheNextSync) {
  auto ks = desired(primary);
  ASSERT_TRUE(prog.apply(ks).ok());
  nft.table.reset();  // nft delete table inet uplinkd
  time.advance(std::chrono::seconds(31));  // periodic verification
  expect_kernel_equals(ks);
}

TEST_F(ProgrammerTest, NftTableEditedExternallyIsReloaded) {
  auto ks = desired(primary);
  ASSERT_TRUE(prog.apply(ks).ok());
  ASSERT_TRUE(nft.run("flush chain inet uplinkd prerouting\n").ok());
  ASSERT_TRUE(prog.sync().ok());
  expect_kernel_equals(ks);
}

TEST_F(ProgrammerTest, AdoptsAPredecessorsStateAndRemovesItsLeftovers) {
  // A crashed predecessor programmed the same state plus a stale rule and route.
  {
    FakeTimeSource t2;
    Programmer old{nl, nft, t2};
    ASSERT_TRUE(old.apply(desired(primary)).ok());
  }
  ASSERT_TRUE(nl.add_rule({.family = AF_INET, .priority = 10107, .fwmark = 0x700, .fwmask = 0x7f00, .table = 107}).ok());
  Route stale{.family = AF_INET, .table = 107, .oif = 11};
  stale.dst.addr.family = AF_INET;
  ASSERT_TRUE(nl.add_route(stale).ok());
  int writes = nl.writes;
  auto ks = desired(primary);
  ASSERT_TRUE(prog.apply(ks).ok());
  EXPECT_EQ(nl.writes, writes + 2);  // only the two deletions: the rest is adopted
  expect_kernel_equals(ks);
}

TEST_F(ProgrammerTest, FailureIsRetriedWithBackoff) {
  nl.fail_next_write = true;
  auto r = prog.apply(desired(primary));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("injected failure"), std::string::npos);
  EXPECT_TRUE(prog.retry_pending());
  time.advance(std::chrono::milliseconds(100));
  EXPECT_FALSE(prog.retry_pending());
  expect_kernel_equals(desired(primary));

  // nft fails twice: retries after 100 ms then 200 ms.
  nft.fail_next = true;
  ASSERT_FALSE(prog.apply(desired(backup)).ok());
  nft.fail_next = true;
  time.advance(std::chrono::milliseconds(100));
  EXPECT_TRUE(prog.retry_pending());
  time.advance(std::chrono::milliseconds(199));
  EXPECT_TRUE(prog.retry_pending());
  time.advance(std::chrono::milliseconds(1));
  EXPECT_FALSE(prog.retry_pending());
  expect_kernel_equals(desired(backup));
}

TEST_F(ProgrammerTest, AFailingRouteDoesNotHoldBackTheNftUpdate) {
  ASSERT_TRUE(prog.apply(desired(primary)).ok());
  config.links["wan1"].gateway = address("198.18.1.254");
  nl.fail_next_write = true;  // the route replace fails
  ASSERT_FALSE(prog.apply(desired(backup)).ok());
  EXPECT_EQ(*nft.table, desired(backup).nft.render());  // traffic moved anyway
  time.advance(std::chrono::milliseconds(100));         // the retry fixes the route
  expect_kernel_equals(desired(backup));
}

TEST_F(ProgrammerTest, RemoveAllRestoresTheKernelExactly) {
  auto routes = nl.routes;
  auto rules = nl.rules;
  ASSERT_TRUE(prog.apply(desired(primary)).ok());
  ASSERT_TRUE(prog.apply(desired(backup)).ok());
  ASSERT_TRUE(prog.remove_all().ok());
  EXPECT_EQ(nl.routes, routes);
  EXPECT_EQ(nl.rules, rules);
  EXPECT_FALSE(nft.table.has_value());
  EXPECT_EQ(time.pending(), 0u);  // no timer left behind
}

// A private network: the guard goes in before any route on the first
// programming, and a fail_closed stop leaves exactly the guard behind.
TEST_F(ProgrammerTest, PrivateGuardFirstAndAloneAfterAFailClosedStop) {
  config.links["cell1"].private_routes = {testing::prefix("10.200.0.0/16")};
  auto ks = desired(primary);
  ASSERT_FALSE(ks.nft.guard.empty());
  size_t owned_routes_at_first_nft = 99;
  nft.on_run = [&] {
    if (owned_routes_at_first_nft == 99) owned_routes_at_first_nft = nl.owned_routes().size();
  };
  ASSERT_TRUE(prog.apply(ks).ok());
  EXPECT_EQ(owned_routes_at_first_nft, 0u);
  expect_kernel_equals(ks);

  ASSERT_TRUE(prog.remove_all(/*keep_guard=*/true).ok());
  EXPECT_TRUE(nl.owned_routes().empty());
  EXPECT_TRUE(nl.owned_rules().empty());
  ASSERT_TRUE(nft.table.has_value());
  EXPECT_EQ(*nft.table, "table inet uplinkd {\n" + ks.nft.guard + "}\n");
  EXPECT_EQ(nft.scripts.back().find("delete table inet uplinkd\ntable inet uplinkd {\n"),
            std::string("table inet uplinkd {}\n").size());  // one transaction: never without the guard
}

TEST_F(ProgrammerTest, FailClosedWithoutAPrivateNetworkRemovesEverything) {
  ASSERT_TRUE(prog.apply(desired(primary)).ok());
  ASSERT_TRUE(prog.remove_all(/*keep_guard=*/true).ok());
  EXPECT_FALSE(nft.table.has_value());
}

// Another module's objects (a tunnel's route and rule, through KernelObjects):
// programmed with routing's, kept by routing's applies and by a sync, removed
// when the owner releases them; a protocol-85 route that no owner desires
// (a predecessor's leftover) still goes.
TEST_F(ProgrammerTest, AnotherOwnersObjectsSurviveRoutingAndGoWhenReleased) {
  KernelObjects shared;
  Programmer owned{nl, nft, time, ProgrammerTuning{}, &shared};
  Route tunnel{.family = AF_INET, .table = 200, .oif = 11};
  tunnel.dst = {address("10.99.0.0"), 16};
  Rule to_tunnel{.family = AF_INET, .priority = 500, .table = 200};
  Route stale{.family = AF_INET, .table = 107, .oif = 11};
  stale.dst.addr.family = AF_INET;
  ASSERT_TRUE(nl.add_route(stale).ok());  // protocol 85, nobody's
  auto in_kernel = [&](const Route& r) {
    auto owned_routes = nl.owned_routes();
    return std::find(owned_routes.begin(), owned_routes.end(), r) != owned_routes.end();
  };
  auto rule_in_kernel = [&](const Rule& r) {
    auto rules = nl.owned_rules();
    return std::find(rules.begin(), rules.end(), r) != rules.end();
  };

  shared.set("tunnel", OwnedObjects{{tunnel}, {to_tunnel}});
  EXPECT_FALSE(in_kernel(tunnel)) << "nothing before routing's first desired state";
  EXPECT_EQ(shared.owner_of(tunnel), "tunnel");
  EXPECT_EQ(shared.owner_of(stale), "");

  ASSERT_TRUE(owned.apply(desired(primary)).ok());
  EXPECT_TRUE(in_kernel(tunnel));
  EXPECT_TRUE(rule_in_kernel(to_tunnel));
  EXPECT_FALSE(in_kernel(stale)) << "routing's unknown protocol-85 route is removed";
  ASSERT_TRUE(owned.sync().ok());
  EXPECT_TRUE(in_kernel(tunnel)) << "a sync does not take it for a leftover";
  ASSERT_TRUE(owned.apply(desired(backup)).ok());
  EXPECT_TRUE(in_kernel(tunnel));
  EXPECT_TRUE(rule_in_kernel(to_tunnel));
  // Deleted behind our back: the sync puts the owner's route back.
  ASSERT_TRUE(nl.delete_route(tunnel).ok());
  ASSERT_TRUE(owned.sync().ok());
  EXPECT_TRUE(in_kernel(tunnel));

  shared.release("tunnel");  // written at once, routing's objects untouched
  EXPECT_FALSE(in_kernel(tunnel));
  EXPECT_FALSE(rule_in_kernel(to_tunnel));
  expect_kernel_equals(desired(backup));
  ASSERT_TRUE(owned.sync().ok());
  expect_kernel_equals(desired(backup));
  ASSERT_TRUE(owned.remove_all().ok());
}

}  // namespace
}  // namespace uplink
