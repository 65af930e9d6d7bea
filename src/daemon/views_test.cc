// The event objects of `uplinkctl events --json`: keys and spelling are a
// contract (ARCHITECTURE.md §2, docs/control-protocol.md), so these compare
// the exact serialised text.
#include "daemon/views.h"

#include <gtest/gtest.h>

namespace uplink {
namespace {

// 2026-11-26T10:00:00.123Z
WallTime at_ms(int64_t ms_since_epoch) { return WallTime{std::chrono::milliseconds(ms_since_epoch)}; }
constexpr int64_t kT = 1795687200123;

TEST(EventJson, LinkEventIsExactlyTheContractFields) {
  LinkEvent e{at_ms(kT), "wan1", LinkState::up, LinkState::down, "probe_timeout"};
  EXPECT_EQ(event_json(e).dump(),
            R"({"from":"up","link":"wan1","reason":"probe_timeout","to":"down","ts":"2026-11-26T10:00:00.123Z"})");
  EXPECT_EQ(event_json(Event(e)), event_json(e));
}

TEST(EventJson, PolicyEventIsExact) {
  PolicyEvent e{at_ms(kT), "default", {"wan1", "wan2"}, {"wan2"}, "wan1 down"};
  EXPECT_EQ(event_json(e).dump(),
            R"({"active":["wan2"],"active_before":["wan1","wan2"],"policy":"default","reason":"wan1 down",)"
            R"("ts":"2026-11-26T10:00:00.123Z"})");
  EXPECT_EQ(event_json(Event(e)), event_json(e));
}

TEST(EventJson, LastResortIsAnEmptyArrayNeverNull) {
  PolicyEvent e{at_ms(kT), "default", {"wan2"}, {}, "wan2 down; last_resort"};
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
