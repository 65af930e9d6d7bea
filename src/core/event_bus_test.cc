#include "core/event_bus.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/topics.h"

namespace uplink {

// A topic a module might define in its own folder: the bus needs nothing else.
struct ModemTestEvent {
  static constexpr std::string_view kTopic = "modem";
  static constexpr bool kStreamed = true;
  std::string modem;
  std::string what;
};
nlohmann::json event_json(const ModemTestEvent& e) { return {{"ts", "t"}, {"modem", e.modem}, {"event", e.what}}; }

namespace {

LinkEvent link_event(const std::string& link, LinkState from, LinkState to, const std::string& reason) {
  return LinkEvent{WallTime{}, link, from, to, reason};
}

PolicyEvent policy_event(const std::string& policy, std::vector<std::string> before, std::vector<std::string> after,
                         const std::string& reason) {
  return PolicyEvent{WallTime{}, policy, std::move(before), std::move(after), reason, "", ""};
}

// "link wan1 down" / "policy default wan2" / "modem m1 ...": enough to check kind and order.
std::string tag(const StreamRecord& r) {
  if (r.topic == "link") return "link " + r.json["link"].get<std::string>() + " " + r.json["to"].get<std::string>();
  if (r.topic == "policy") {
    std::string s = "policy " + r.json["policy"].get<std::string>();
    for (const auto& a : r.json["active"]) s += " " + a.get<std::string>();
    return s;
  }
  return r.topic + " " + r.json.dump();
}

using Tags = std::vector<std::string>;

TEST(EventBus, StreamCarriesEveryStreamedTopicInPublicationOrder) {
  EventBus bus;
  Tags seen;
  bus.subscribe_stream([&](const StreamRecord& r) { seen.push_back(tag(r)); });
  bus.publish(link_event("wan1", LinkState::up, LinkState::down, "carrier_lost"));
  bus.publish(policy_event("default", {"wan1", "wan2"}, {"wan2"}, "wan1 down"));
  bus.publish(InterfaceEvent{"eth1", InterfaceEvent::Kind::carrier, true, {}});  // internal: not streamed
  bus.publish(link_event("wan1", LinkState::down, LinkState::up, "probes_ok"));
  bus.publish(policy_event("default", {"wan2"}, {"wan1", "wan2"}, "wan1 up"));
  Tags want{"link wan1 down", "policy default wan2", "link wan1 up", "policy default wan1 wan2"};
  EXPECT_EQ(seen, want);
  Tags history;
  for (const auto& r : bus.recent()) history.push_back(tag(r));
  EXPECT_EQ(history, want);
  EXPECT_EQ(bus.streamed(), 4u);
  EXPECT_EQ(bus.published("interface"), 1u);
  EXPECT_EQ(bus.published("link"), 2u);
}

TEST(EventBus, TypedSubscribersSeeOnlyTheirTopicAndEveryoneInSubscriptionOrder) {
  EventBus bus;
  Tags order;
  bus.subscribe<LinkEvent>([&](const LinkEvent& e) { order.push_back("typed " + e.link); });
  bus.subscribe_stream([&](const StreamRecord& r) { order.push_back("stream " + r.topic); });
  bus.subscribe<PolicyEvent>([&](const PolicyEvent& e) { order.push_back("policy " + e.policy); });
  bus.publish(policy_event("default", {}, {"wan2"}, "wan2 up"));
  bus.publish(link_event("wan1", LinkState::unknown, LinkState::down, "probe_timeout"));
  EXPECT_EQ(order, (Tags{"stream policy", "policy default", "typed wan1", "stream link"}));
}

TEST(EventBus, ModuleTopicsNeedNoChangeToTheBus) {
  EventBus bus;
  std::vector<ModemTestEvent> got;
  bus.subscribe<ModemTestEvent>([&](const ModemTestEvent& e) { got.push_back(e); });
  bus.publish(ModemTestEvent{"m1", "sim_switch"});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].what, "sim_switch");
  ASSERT_EQ(bus.recent().size(), 1u);
  EXPECT_EQ(bus.recent()[0].topic, "modem");
  EXPECT_EQ(bus.recent()[0].json["event"], "sim_switch");
}

TEST(EventBus, PolicyEventWireFormCarriesItsCause) {
  EventBus bus;
  PolicyEvent e = policy_event("default", {"wan1", "wan2"}, {}, "wan2 down; last_resort");
  e.cause_link = "wan2";
  e.cause = "down";
  bus.publish(e);
  const auto& j = bus.recent().back().json;
  EXPECT_EQ(j["policy"], "default");
  EXPECT_EQ(j["active_before"], (nlohmann::json{"wan1", "wan2"}));
  EXPECT_TRUE(j["active"].empty());
  EXPECT_EQ(j["reason"], "wan2 down; last_resort");
  EXPECT_EQ(j["cause_link"], "wan2");
  EXPECT_EQ(j["cause"], "down");
}

TEST(EventBus, LinkEventWireFormIsExactlyTheContract) {
  EventBus bus;
  bus.publish(link_event("wan1", LinkState::up, LinkState::down, "probe_timeout"));
  const auto& j = bus.recent().back().json;
  EXPECT_EQ(j.size(), 5u);
  for (const char* k : {"ts", "link", "from", "to", "reason"}) EXPECT_TRUE(j.contains(k)) << k;
}

TEST(EventBus, HistoryKeepsTheNewest) {
  EventBus bus(3);
  bus.publish(link_event("wan1", LinkState::unknown, LinkState::up, "probes_ok"));
  bus.publish(policy_event("default", {}, {"wan1"}, "wan1 up"));
  bus.publish(link_event("wan2", LinkState::unknown, LinkState::up, "probes_ok"));
  bus.publish(policy_event("default", {"wan1"}, {"wan1", "wan2"}, "wan2 up"));
  Tags history;
  for (const auto& r : bus.recent()) history.push_back(tag(r));
  EXPECT_EQ(history, (Tags{"policy default wan1", "link wan2 up", "policy default wan1 wan2"}));
  EXPECT_EQ(bus.streamed(), 4u);
}

TEST(EventBus, ASubscriberMayUnsubscribeWhileBeingCalled) {
  EventBus bus;
  int calls = 0, other = 0;
  uint64_t id = 0;
  id = bus.subscribe_stream([&](const StreamRecord&) {
    ++calls;
    bus.unsubscribe(id);
  });
  bus.subscribe<LinkEvent>([&](const LinkEvent&) { ++other; });
  bus.publish(link_event("wan1", LinkState::unknown, LinkState::up, "probes_ok"));
  bus.publish(link_event("wan1", LinkState::up, LinkState::down, "probe_timeout"));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(other, 2);
}

}  // namespace
}  // namespace uplink
