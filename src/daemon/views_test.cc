// The event objects of `uplinkctl events --json`: keys and spelling are a
// contract (ARCHITECTURE.md §2, docs/control-protocol.md), so these compare
// the exact serialised text.
#include "core/topics.h"

#include <gtest/gtest.h>

#include "core/event_bus.h"

namespace uplink {
namespace {

using Json = nlohmann::json;

// 2026-11-26T10:00:00.123Z
WallTime at_ms(int64_t ms_since_epoch) { return WallTime{std::chrono::milliseconds(ms_since_epoch)}; }
constexpr int64_t kT = 1795687200123;

TEST(EventJson, LinkEventIsExactlyTheContractFields) {
  LinkEvent e{at_ms(kT), "wan1", LinkState::up, LinkState::down, "probe_timeout"};
  EXPECT_EQ(event_json(e).dump(),
            R"({"from":"up","link":"wan1","reason":"probe_timeout","to":"down","ts":"2026-11-26T10:00:00.123Z"})");
}

TEST(EventJson, PolicyEventIsExact) {
  PolicyEvent e{at_ms(kT), "default", {"wan1", "wan2"}, {"wan2"}, "wan1 down", "wan1", "down"};
  EXPECT_EQ(event_json(e).dump(),
            R"({"active":["wan2"],"active_before":["wan1","wan2"],"cause":"down","cause_link":"wan1",)"
            R"("policy":"default","reason":"wan1 down","ts":"2026-11-26T10:00:00.123Z"})");
}

TEST(EventJson, ConfigCauseHasAnEmptyCauseLink) {
  PolicyEvent e{at_ms(kT), "default", {}, {"wan1"}, "config", "", "config"};
  Json j = event_json(e);
  EXPECT_EQ(j["cause_link"], "");
  EXPECT_EQ(j["cause"], "config");
}

// What the bus streams is event_json() under the topic's name.
TEST(EventJson, TheBusStreamsTheWireForm) {
  EventBus bus;
  LinkEvent l{at_ms(kT), "wan1", LinkState::up, LinkState::down, "probe_timeout"};
  PolicyEvent p{at_ms(kT), "default", {"wan1"}, {}, "wan1 down; last_resort", "wan1", "down"};
  bus.publish(l);
  bus.publish(p);
  bus.publish(PolicyActive{"default", {}});  // internal: not streamed
  ASSERT_EQ(bus.recent().size(), 2u);
  EXPECT_EQ(bus.recent()[0].topic, "link");
  EXPECT_EQ(bus.recent()[0].json, event_json(l));
  EXPECT_EQ(bus.recent()[1].topic, "policy");
  EXPECT_EQ(bus.recent()[1].json, event_json(p));
}

TEST(EventJson, LastResortIsAnEmptyArrayNeverNull) {
  PolicyEvent e{at_ms(kT), "default", {"wan2"}, {}, "wan2 down; last_resort", "wan2", "down"};
  Json j = event_json(e);
  EXPECT_EQ(j["active"], Json::array());
  EXPECT_EQ(j["active_before"], Json::array({"wan2"}));
  // A reader keyed on link events ("link", "from", "to") finds none of them here.
  EXPECT_FALSE(j.contains("link"));
  EXPECT_FALSE(j.contains("from"));
  EXPECT_FALSE(j.contains("to"));
}

}  // namespace
}  // namespace uplink
