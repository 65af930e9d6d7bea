#include "daemon/event_bus.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace uplink {
namespace {

LinkEvent link_event(const std::string& link, LinkState from, LinkState to, const std::string& reason) {
  return LinkEvent{WallTime{}, link, from, to, reason};
}

PolicyEvent policy_event(const std::string& policy, std::vector<std::string> before, std::vector<std::string> after,
                         const std::string& reason) {
  return PolicyEvent{WallTime{}, policy, std::move(before), std::move(after), reason};
}

// "link wan1 down" / "policy default wan2": enough to check kind and order.
std::string tag(const Event& e) {
  if (const auto* l = std::get_if<LinkEvent>(&e)) return "link " + l->link + " " + std::string(to_string(l->to));
  const auto& p = std::get<PolicyEvent>(e);
  std::string s = "policy " + p.policy;
  for (const auto& a : p.active) s += " " + a;
  return s;
}

using Tags = std::vector<std::string>;

TEST(EventBus, CarriesLinkAndPolicyEventsInPublicationOrder) {
  EventBus bus;
  Tags seen;
  bus.subscribe_all([&](const Event& e) { seen.push_back(tag(e)); });
  bus.publish(link_event("wan1", LinkState::up, LinkState::down, "carrier_lost"));
  bus.publish(policy_event("default", {"wan1", "wan2"}, {"wan2"}, "wan1 down"));
  bus.publish(link_event("wan1", LinkState::down, LinkState::up, "probes_ok"));
  bus.publish(policy_event("default", {"wan2"}, {"wan1", "wan2"}, "wan1 up"));
  Tags want{"link wan1 down", "policy default wan2", "link wan1 up", "policy default wan1 wan2"};
  EXPECT_EQ(seen, want);
  Tags history;
  for (const auto& e : bus.recent()) history.push_back(tag(e));
  EXPECT_EQ(history, want);
  EXPECT_EQ(bus.published(), 4u);
}

TEST(EventBus, LinkSubscribersSeeOnlyLinkEvents) {
  EventBus bus;
  Tags all, links;
  bus.subscribe([&](const LinkEvent& e) { links.push_back(e.link + " " + e.reason); });
  bus.subscribe_all([&](const Event& e) { all.push_back(tag(e)); });
  bus.publish(policy_event("default", {}, {"wan2"}, "wan2 up"));
  bus.publish(link_event("wan1", LinkState::unknown, LinkState::down, "probe_timeout"));
  EXPECT_EQ(links, Tags{"wan1 probe_timeout"});
  EXPECT_EQ(all, (Tags{"policy default wan2", "link wan1 down"}));
}

TEST(EventBus, PolicyEventFieldsArriveIntact) {
  EventBus bus;
  std::vector<PolicyEvent> got;
  bus.subscribe_all([&](const Event& e) {
    if (const auto* p = std::get_if<PolicyEvent>(&e)) got.push_back(*p);
  });
  bus.publish(policy_event("default", {"wan1", "wan2"}, {}, "wan2 down; last_resort"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].policy, "default");
  EXPECT_EQ(got[0].active_before, (std::vector<std::string>{"wan1", "wan2"}));
  EXPECT_TRUE(got[0].active.empty());
  EXPECT_EQ(got[0].reason, "wan2 down; last_resort");
}

TEST(EventBus, HistoryKeepsTheNewestOfBothKinds) {
  EventBus bus(3);
  bus.publish(link_event("wan1", LinkState::unknown, LinkState::up, "probes_ok"));
  bus.publish(policy_event("default", {}, {"wan1"}, "wan1 up"));
  bus.publish(link_event("wan2", LinkState::unknown, LinkState::up, "probes_ok"));
  bus.publish(policy_event("default", {"wan1"}, {"wan1", "wan2"}, "wan2 up"));
  Tags history;
  for (const auto& e : bus.recent()) history.push_back(tag(e));
  EXPECT_EQ(history, (Tags{"policy default wan1", "link wan2 up", "policy default wan1 wan2"}));
  EXPECT_EQ(bus.published(), 4u);
}

TEST(EventBus, ASubscriberMayUnsubscribeWhileBeingCalled) {
  EventBus bus;
  int calls = 0, other = 0;
  uint64_t id = 0;
  id = bus.subscribe_all([&](const Event&) {
    ++calls;
    bus.unsubscribe(id);
  });
  bus.subscribe([&](const LinkEvent&) { ++other; });
  bus.publish(link_event("wan1", LinkState::unknown, LinkState::up, "probes_ok"));
  bus.publish(link_event("wan1", LinkState::up, LinkState::down, "probe_timeout"));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(other, 2);
}

}  // namespace
}  // namespace uplink
