#include "policy/routing.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "net/testing/fake_conntrack.h"
#include "net/testing/fake_netlink.h"
#include "net/testing/fake_nftables.h"
#include "net/testing/sample_config.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;
using testing::address;

class RoutingTest : public ::testing::Test {
 protected:
  RoutingTest() {
    nl.links = {{11, "eth1", true, true}, {12, "eth2", true, true}, {13, "wwan0", true, true}};
    nl.addresses = {{11, {address("198.18.1.2"), 24}}, {12, {address("198.18.2.2"), 24}}};
    nl.routes = {{{AF_INET, 254, {{AF_INET}, 0}, address("198.18.2.1"), 12}, 4}};
  }
  std::string policy_chain_text(const std::string& chain) {
    auto& t = *nft.table;
    auto pos = t.find("\tchain " + chain + " {\n");
    return t.substr(pos, t.find("\t}\n", pos) - pos);
  }
  bool chain_has(const std::string& chain, const std::string& text) {
    return policy_chain_text(chain).find(text) != std::string::npos;
  }
  void up(const std::string& l) { routing.on_link_state(l, LinkState::up, {20.0, 1.0, 0.0}); }
  void down(const std::string& l) { routing.on_link_state(l, LinkState::down, {}); }

  Config config = testing::sample_config();
  FakeTimeSource time;
  FakeNetlink nl;
  FakeNetlinkMonitor monitor;
  FakeNftables nft;
  FakeConntrack ct;
  Routing routing{config, time, nl, monitor, nft, ct};
};

TEST_F(RoutingTest, StartsAtLastResortThenFollowsLinkStates) {
  ASSERT_TRUE(routing.start().ok());
  EXPECT_TRUE(chain_has("policy_default", "goto last_resort_unreachable"));
  EXPECT_EQ(routing.status_json()[0],
            nlohmann::json({{"name", "default"}, {"mode", "failover"}, {"active", nlohmann::json::array()},
                            {"last_resort_active", true}}));
  up("wan1");
  up("wan2");
  up("cell1");
  EXPECT_TRUE(chain_has("policy_default", "numgen random mod 4 vmap { 0-2 : goto link_wan1, 3 : goto link_wan2 }"));
  EXPECT_EQ(routing.status_json()[0]["active"], nlohmann::json({"wan1", "wan2"}));
  EXPECT_EQ(routing.status_json()[1],
            nlohmann::json({{"name", "cellular"}, {"mode", "balance"}, {"active", {"cell1"}}, {"last_resort_active", false}}));
}

// Policy changes reach the callback with their cause (hooks and events are
// the HooksModule's and the RoutingModule's business now).
TEST_F(RoutingTest, PolicyChangesReachTheCallbackWithTheirCause) {
  std::vector<PolicyChange> changes;
  routing.set_callbacks({.on_carrier = nullptr, .on_address = nullptr, .on_link_gone = nullptr,
                         .on_policy_change = [&](const PolicyChange& c) { changes.push_back(c); }});
  ASSERT_TRUE(routing.start().ok());
  up("wan1");
  up("wan1");  // the same state again: no change
  down("wan1");
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].policy, "default");
  EXPECT_EQ(changes[0].to, std::vector<std::string>{"wan1"});
  EXPECT_EQ(changes[0].cause_link, "wan1");
  EXPECT_EQ(changes[0].cause, "up");
  EXPECT_EQ(changes[0].reason, "wan1 up");
  EXPECT_EQ(changes[1].from, std::vector<std::string>{"wan1"});
  EXPECT_EQ(changes[1].cause, "down");
  EXPECT_EQ(changes[1].reason, "wan1 down; last_resort");
  // Routing is programmed before the callback hears of the change.
  EXPECT_TRUE(chain_has("policy_default", "goto last_resort_unreachable"));
}

TEST_F(RoutingTest, FailoverFlushesOnlyTheDeadLinksFlows) {
  ASSERT_TRUE(routing.start().ok());
  up("wan1");
  up("wan2");
  up("cell1");
  ct.entries = {0x100, 0x8100, 0x200, 0x8200, 0x300, 0x1};
  ct.flushes.clear();
  down("wan1");
  EXPECT_TRUE(chain_has("policy_default", "goto link_wan2"));
  ASSERT_EQ(ct.flushes.size(), 1u);
  EXPECT_EQ(ct.flushes[0], std::make_pair(0x100u, 0x7f00u));  // all wan1 flows, sticky too
  EXPECT_EQ(ct.entries, (std::vector<uint32_t>{0x200, 0x8200, 0x300, 0x1}));
}

TEST_F(RoutingTest, LinkLeavingEveryPolicyKeepsItsStickyFlows) {
  config.policies["cellular"].members = {{"wan2", 1, 1}};  // cell1 only serves "default", tier 2
  Routing r{config, time, nl, monitor, nft, ct};
  ASSERT_TRUE(r.start().ok());
  r.on_link_state("cell1", LinkState::up, {});
  ct.entries = {0x300, 0x8300, 0x200};
  r.on_link_state("wan1", LinkState::up, {});  // tier 1 back: cell1 leaves, still usable
  ASSERT_EQ(ct.flushes.size(), 1u);
  EXPECT_EQ(ct.flushes[0], std::make_pair(0x300u, 0xff00u));
  EXPECT_EQ(ct.entries, (std::vector<uint32_t>{0x8300, 0x200}));  // the sticky flow stays on cell1
}

// Holds asynchronous flushes until the test completes them, as a worker
// thread would, later. A synchronous flush from Routing is a failure.
class DeferredConntrack final : public Conntrack {
 public:
  struct Pending {
    uint32_t mark, mask;
    FlushDone done;
  };
  std::vector<Pending> queued;
  Result<size_t> flush_mark(uint32_t, uint32_t) override {
    ADD_FAILURE() << "Routing waited for a conntrack flush";
    return size_t(0);
  }
  void flush_mark_async(uint32_t mark, uint32_t mask, FlushDone done) override {
    queued.push_back({mark, mask, std::move(done)});
  }
};

TEST_F(RoutingTest, RoutingSwitchesWithoutWaitingForTheFlush) {
  DeferredConntrack deferred;
  auto r = std::make_unique<Routing>(config, time, nl, monitor, nft, deferred);
  ASSERT_TRUE(r->start().ok());
  for (const char* l : {"wan1", "wan2", "cell1"}) r->on_link_state(l, LinkState::up, {});
  r->on_link_state("wan1", LinkState::down, {});
  EXPECT_TRUE(chain_has("policy_default", "goto link_wan2"));  // switched, flush still queued
  ASSERT_EQ(deferred.queued.size(), 1u);
  EXPECT_EQ(deferred.queued[0].mark, 0x100u);
  EXPECT_EQ(deferred.queued[0].mask, 0x7f00u);
  deferred.queued[0].done(size_t(42));  // the result arrives later: only logged
  r->on_link_state("wan2", LinkState::down, {});
  ASSERT_EQ(deferred.queued.size(), 2u);
  r.reset();                                                   // a result after Routing is gone is harmless
  deferred.queued[1].done(make_error("conntrack flush of mark 0x200/0x7f00: injected"));
}

TEST_F(RoutingTest, InvalidConfigChangesNothing) {
  ASSERT_TRUE(routing.start().ok());
  up("wan1");
  auto table = nft.table;
  auto rules = nl.rules;
  auto bad = config;
  bad.links["wan2"].fwmark = 0x100;
  auto r = routing.apply_config(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("already used by link wan1"), std::string::npos) << r.error().message;
  nft.fail_check = true;
  EXPECT_FALSE(routing.apply_config(config).ok());
  EXPECT_EQ(nft.table, table);
  EXPECT_EQ(nl.rules, rules);
}

TEST_F(RoutingTest, ReloadRemovingALinkFlushesItsFlowsAndItsObjects) {
  ASSERT_TRUE(routing.start().ok());
  up("wan1");
  up("cell1");
  ct.entries = {0x100, 0x300};
  auto next = config;
  next.links.erase("cell1");
  next.link_order.pop_back();
  next.policies["default"].members.pop_back();
  next.policies["cellular"].members = {{"wan1", 1, 1}};
  ASSERT_TRUE(routing.apply_config(next).ok());
  EXPECT_EQ(ct.entries, (std::vector<uint32_t>{0x100}));
  for (const auto& r : nl.owned_rules()) EXPECT_NE(r.table, 103u);
  EXPECT_EQ(nft.table->find("link_cell1"), std::string::npos);
  EXPECT_TRUE(chain_has("policy_cellular", "goto link_wan1"));
}

TEST_F(RoutingTest, NetlinkEventsBecomeHardSignalsAndNewFacts) {
  std::vector<std::string> seen;
  routing.set_callbacks({
      .on_carrier = [&](const std::string& i, bool c) { seen.push_back(i + (c ? " carrier" : " no-carrier")); },
      .on_address = [&](const std::string& i, const IpPrefix& a, bool add) { seen.push_back(i + (add ? " +" : " -") + a.to_string()); },
      .on_link_gone = [&](const std::string& i) { seen.push_back(i + " gone"); },
      .on_policy_change = nullptr,
  });
  ASSERT_TRUE(routing.start().ok());
  NetlinkEvent e;
  e.kind = NetlinkEvent::Kind::link;
  e.ifname = "eth1";
  e.link = {11, "eth1", true, false};
  monitor.emit(e);
  e.ifname = "lo";  // not a link interface: no signal
  monitor.emit(e);
  // The modem got an address: a `from` rule for it appears after the refresh delay.
  nl.addresses.push_back({13, {address("10.64.1.7"), 32}});
  e = {};
  e.kind = NetlinkEvent::Kind::address_added;
  e.ifname = "wwan0";
  e.address = {13, {address("10.64.1.7"), 32}};
  monitor.emit(e);
  EXPECT_EQ(seen, (std::vector<std::string>{"eth1 no-carrier", "wwan0 +10.64.1.7/32"}));
  auto has_from_rule = [&] {
    for (const auto& r : nl.owned_rules())
      if (r.src && r.src->addr == address("10.64.1.7")) return true;
    return false;
  };
  EXPECT_FALSE(has_from_rule());
  time.advance(60ms);
  EXPECT_TRUE(has_from_rule());
}

TEST_F(RoutingTest, StopRemovesEverything) {
  auto routes = nl.routes;
  auto rules = nl.rules;
  ASSERT_TRUE(routing.start().ok());
  up("wan1");
  ASSERT_TRUE(routing.stop().ok());
  EXPECT_EQ(nl.routes, routes);
  EXPECT_EQ(nl.rules, rules);
  EXPECT_FALSE(nft.table.has_value());
  EXPECT_EQ(monitor.handler, nullptr);
}

}  // namespace
}  // namespace uplink
