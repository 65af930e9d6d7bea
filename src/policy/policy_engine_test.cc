#include "policy/policy_engine.h"

#include <gtest/gtest.h>

namespace uplink {
namespace {

using namespace std::chrono_literals;

LinkQuality q(double latency, double loss = 0) { return {latency, 0.0, loss}; }

Config make_config(PolicyMode mode, std::vector<PolicyMember> members) {
  Config c;
  PolicyConfig p;
  p.name = "p";
  p.mode = mode;
  p.members = std::move(members);
  c.policies["p"] = p;
  c.policy_order = {"p"};
  return c;
}

std::vector<ActiveMember> active(const PolicyEngine& e) { return e.decisions().at("p").active; }

class EngineTest : public ::testing::Test {
 protected:
  void up(const std::string& l, double latency = 20) { engine.update_link(l, LinkState::up, q(latency)); }
  void set(const std::string& l, LinkState s) { engine.update_link(l, s, q(20)); }
  FakeTimeSource time;
  PolicyEngine engine{time};
  std::vector<PolicyChange> changes;
};

TEST_F(EngineTest, FailoverUsesLowestTierWithWeights) {
  engine.set_config(make_config(PolicyMode::failover, {{"wan1", 1, 3}, {"wan2", 1, 1}, {"cell1", 2, 1}}));
  EXPECT_TRUE(engine.decisions().at("p").last_resort());  // nothing known yet
  up("wan1");
  up("wan2");
  up("cell1");
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"wan1", 3}, {"wan2", 1}}));
  set("wan1", LinkState::down);
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"wan2", 1}}));
  set("wan2", LinkState::disabled);
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"cell1", 1}}));
  up("wan1");
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"wan1", 3}}));
}

TEST_F(EngineTest, DegradedOnlyWhenNoMemberIsUp) {
  engine.set_config(make_config(PolicyMode::failover, {{"wan1", 1, 1}, {"cell1", 2, 1}}));
  set("wan1", LinkState::degraded);
  up("cell1");
  // An up tier-2 member beats a degraded tier-1 member.
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"cell1", 1}}));
  set("cell1", LinkState::down);
  // Never nothing while a degraded member could carry traffic.
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"wan1", 1}}));
  set("wan1", LinkState::down);
  EXPECT_TRUE(engine.decisions().at("p").last_resort());
}

TEST_F(EngineTest, BalanceUsesAllUpMembers) {
  engine.set_config(make_config(PolicyMode::balance, {{"wan1", 1, 3}, {"wan2", 2, 1}, {"cell1", 3, 2}}));
  up("wan1");
  up("wan2");
  set("cell1", LinkState::degraded);
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"wan1", 3}, {"wan2", 1}}));
  set("wan1", LinkState::down);
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"wan2", 1}}));
}

TEST_F(EngineTest, ChangesReportWhatLeftAndJoined) {
  engine.set_config(make_config(PolicyMode::failover, {{"wan1", 1, 1}, {"wan2", 2, 1}}));
  engine.on_change([&](const std::vector<PolicyChange>& c) { changes.insert(changes.end(), c.begin(), c.end()); });
  up("wan1");
  up("wan2");  // no change: tier 2 stays out
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].to, std::vector<std::string>{"wan1"});
  set("wan1", LinkState::down);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].from, std::vector<std::string>{"wan1"});
  EXPECT_EQ(changes[1].to, std::vector<std::string>{"wan2"});
  EXPECT_EQ(changes[1].left, std::vector<std::string>{"wan1"});
  EXPECT_EQ(changes[1].joined, std::vector<std::string>{"wan2"});
  EXPECT_FALSE(engine.link_active_anywhere("wan1"));
  EXPECT_TRUE(engine.link_active_anywhere("wan2"));
}

TEST_F(EngineTest, QualityNeedsAClearMarginForTheHoldTime) {
  engine.set_config(make_config(PolicyMode::quality, {{"a", 1, 1}, {"b", 1, 1}}));
  int switches = 0;
  engine.on_change([&](const std::vector<PolicyChange>&) { ++switches; });
  engine.update_link("a", LinkState::up, q(20));
  engine.update_link("b", LinkState::up, q(30));
  EXPECT_EQ(active(engine)[0].link, "a");
  switches = 0;
  // b better by 5 ms: not a clear margin (needs >= 10 ms and >= 20 %).
  engine.update_link("a", LinkState::up, q(35));
  time.advance(10s);
  EXPECT_EQ(active(engine)[0].link, "a");
  // b better by 20 ms (36 %): switches only after 5 s.
  engine.update_link("a", LinkState::up, q(50));
  time.advance(4900ms);
  EXPECT_EQ(active(engine)[0].link, "a");
  time.advance(100ms);  // the hold timer fires without another update
  EXPECT_EQ(active(engine)[0].link, "b");
  EXPECT_EQ(switches, 1);
}

TEST_F(EngineTest, QualitySwitchesOnceWhenLatenciesCross) {
  engine.set_config(make_config(PolicyMode::quality, {{"a", 1, 1}, {"b", 1, 1}}));
  int switches = 0;
  engine.update_link("a", LinkState::up, q(20));
  engine.update_link("b", LinkState::up, q(60));
  engine.on_change([&](const std::vector<PolicyChange>&) { ++switches; });
  // a climbs from 20 to 100 ms while b falls from 60 to 20 ms, one step per second, with noise.
  for (int i = 0; i <= 40; ++i) {
    double noise = (i % 2 ? 3.0 : -3.0);
    engine.update_link("a", LinkState::up, q(20 + 2.0 * i + noise));
    engine.update_link("b", LinkState::up, q(60 - 1.0 * i - noise));
    time.advance(1s);
  }
  for (int i = 0; i < 30; ++i) {  // then they hover around each other
    engine.update_link("a", LinkState::up, q(i % 2 ? 95 : 105));
    time.advance(1s);
  }
  EXPECT_EQ(active(engine)[0].link, "b");
  EXPECT_EQ(switches, 1);
}

// Start-up: a comes up first and carries the policy; b, measured a moment
// later and clearly better, takes over at once instead of after the hold.
// Once every member has been measured, margin + hold apply again.
TEST_F(EngineTest, QualityFirstPickBeforeEveryMemberIsMeasuredIsProvisional) {
  engine.set_config(make_config(PolicyMode::quality, {{"a", 1, 1}, {"b", 1, 1}, {"c", 1, 1}}));
  engine.update_link("a", LinkState::up, q(80));
  EXPECT_EQ(active(engine)[0].link, "a");
  engine.update_link("b", LinkState::up, q(20));
  EXPECT_EQ(active(engine)[0].link, "b");  // c still unknown: no hold
  engine.update_link("c", LinkState::down, q(0));
  engine.update_link("a", LinkState::up, q(5));  // now better, but all are measured
  EXPECT_EQ(active(engine)[0].link, "b");
  time.advance(5s);
  engine.update_link("a", LinkState::up, q(5));
  EXPECT_EQ(active(engine)[0].link, "a");
}

TEST_F(EngineTest, QualityLeavesAtOnceWhenTheCurrentGoesDown) {
  engine.set_config(make_config(PolicyMode::quality, {{"a", 1, 1}, {"b", 1, 1}}));
  engine.update_link("a", LinkState::up, q(20));
  engine.update_link("b", LinkState::up, q(80));
  engine.update_link("a", LinkState::down, q(20));
  EXPECT_EQ(active(engine)[0].link, "b");  // no hold time for a failure
  engine.update_link("a", LinkState::up, q(20));
  EXPECT_EQ(active(engine)[0].link, "b");  // the return is earned: margin + hold
  time.advance(5s);
  engine.update_link("a", LinkState::up, q(20));
  EXPECT_EQ(active(engine)[0].link, "a");
}

TEST_F(EngineTest, QualityCountsLoss) {
  engine.set_config(make_config(PolicyMode::quality, {{"a", 1, 1}, {"b", 1, 1}}));
  engine.update_link("b", LinkState::up, q(40));
  engine.update_link("a", LinkState::up, q(20, 5));  // 20 + 5 * 10 = 70
  EXPECT_EQ(active(engine)[0].link, "b");  // not a, whose latency alone is lower
  engine.update_link("a", LinkState::up, q(20));
  EXPECT_EQ(active(engine)[0].link, "b");  // without loss a is better: margin + hold
  time.advance(5s);
  EXPECT_EQ(active(engine)[0].link, "a");
}

TEST_F(EngineTest, ReloadKeepsLinkStates) {
  engine.set_config(make_config(PolicyMode::failover, {{"wan1", 1, 1}}));
  up("wan1");
  up("wan2");
  engine.set_config(make_config(PolicyMode::failover, {{"wan2", 1, 1}}));
  EXPECT_EQ(active(engine), (std::vector<ActiveMember>{{"wan2", 1}}));
}

// "p: wan1/down (wan1 down)": the policy, the cause as data, and the reason.
std::string cause_of(const PolicyChange& c) {
  return c.policy + ": " + c.cause_link + "/" + c.cause + " (" + c.reason + ")";
}

TEST_F(EngineTest, ChangesCarryTheirCause) {
  std::vector<std::string> seen;
  engine.on_change([&](const std::vector<PolicyChange>& cs) {
    for (const auto& c : cs) seen.push_back(cause_of(c));
  });
  engine.set_config(make_config(PolicyMode::failover, {{"wan1", 1, 1}, {"wan2", 2, 1}}));
  EXPECT_TRUE(seen.empty()) << "a new policy starts at its last resort: no change";
  up("wan2");
  up("wan1");
  set("wan1", LinkState::down);
  set("wan2", LinkState::disabled);
  up("wan2");
  set("wan2", LinkState::up);  // same state, same decision: nothing
  engine.set_config(make_config(PolicyMode::failover, {{"wan1", 1, 1}}));  // wan1 is down
  engine.set_config(Config{});
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "p: wan2/up (wan2 up)",
                      "p: wan1/up (wan1 up)",
                      "p: wan1/down (wan1 down)",
                      "p: wan2/disabled (wan2 disabled; last_resort)",
                      "p: wan2/up (wan2 up)",
                      "p: /config (config; last_resort)",
                      "p: /removed (removed)",
                  }));
}

TEST_F(EngineTest, QualityChangesNameTheLinkOrTheHoldTimer) {
  engine.set_config(make_config(PolicyMode::quality, {{"a", 1, 1}, {"b", 1, 1}, {"c", 1, 1}}));
  std::vector<std::string> seen;
  engine.on_change([&](const std::vector<PolicyChange>& cs) {
    for (const auto& c : cs) seen.push_back(cause_of(c) + " -> " + c.to.at(0));
  });
  engine.update_link("a", LinkState::up, q(80));
  engine.update_link("b", LinkState::up, q(20));  // provisional pick replaced at once (c unknown)
  engine.update_link("b", LinkState::up, q(200));  // b's figures alone make the change (still provisional)
  engine.update_link("c", LinkState::up, q(300));  // every member measured: margin + hold from now on
  engine.update_link("b", LinkState::up, q(10));   // clearly better again: after the hold
  EXPECT_EQ(seen.size(), 3u);
  time.advance(5s);  // the hold timer, without another update
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "p: a/up (a up) -> a",
                      "p: b/up (b up) -> b",
                      "p: b/quality (b quality) -> a",
                      "p: /quality (quality) -> b",
                  }));
}

}  // namespace
}  // namespace uplink
