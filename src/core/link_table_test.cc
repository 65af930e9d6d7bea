#include "core/link_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/topics.h"

namespace uplink {
namespace {

struct Table : ::testing::Test {
  FakeTimeSource time;
  EventBus bus;
  LinkTable table{time, bus};
  std::vector<std::string> seen;  // "link wan1 up->down (reason)" and "signal wan1 bearer +/-"

  Table() {
    bus.subscribe<LinkEvent>([this](const LinkEvent& e) {
      seen.push_back(e.link + " " + std::string(to_string(e.from)) + "->" + std::string(to_string(e.to)) + " (" +
                     e.reason + ")");
    });
    bus.subscribe<HardSignalEvent>([this](const HardSignalEvent& e) {
      seen.push_back("signal " + e.link + " " + e.source + (e.down ? " +" : " -"));
    });
  }
};

TEST_F(Table, VerdictsBecomeOneEventPerTransition) {
  table.add("wan1", true, "startup");
  table.report_verdict("wan1", LinkState::up, "probes_ok");
  table.report_verdict("wan1", LinkState::up, "probes_ok");  // no change: no event
  table.report_verdict("wan1", LinkState::down, "probe_timeout");
  EXPECT_EQ(seen, (std::vector<std::string>{"wan1 unknown->up (probes_ok)", "wan1 up->down (probe_timeout)"}));
  EXPECT_EQ(table.find("wan1")->transitions, 2u);
  EXPECT_EQ(table.find("wan1")->reason, "probe_timeout");
  EXPECT_EQ(bus.recent().size(), 2u);
  EXPECT_EQ(bus.recent().back().json["to"], "down");
}

TEST_F(Table, HardSignalWinsOverTheVerdictAndItsReturnIsLeftToTheVerdict) {
  table.add("cell1", true, "startup");
  table.report_verdict("cell1", LinkState::up, "probes_ok");
  table.set_hard_signal("cell1", "bearer", "bearer_disconnected");
  // The monitor hears of the signal before the transition is published.
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1], "signal cell1 bearer +");
  EXPECT_EQ(seen[2], "cell1 up->down (bearer_disconnected)");
  table.report_verdict("cell1", LinkState::up, "probes_ok");  // a stale verdict cannot lift a hard signal
  EXPECT_EQ(table.find("cell1")->state, LinkState::down);
  // Two sources: down until both clear.
  table.set_hard_signal("cell1", "registration", "registration_lost");
  table.clear_hard_signal("cell1", "bearer");
  EXPECT_EQ(table.find("cell1")->state, LinkState::down);
  // The event named the transition's reason; the table shows the current cause.
  EXPECT_EQ(table.find("cell1")->reason, "registration_lost");
  // The monitor, told of the signal, reports down first; the table follows the verdict once clear.
  table.report_verdict("cell1", LinkState::down, "registration_lost");
  table.clear_hard_signal("cell1", "registration");
  EXPECT_EQ(table.find("cell1")->state, LinkState::down);
  table.report_verdict("cell1", LinkState::up, "probes_ok");
  EXPECT_EQ(table.find("cell1")->state, LinkState::up);
}

TEST_F(Table, AdministratorWinsAndEnablingStartsAfresh) {
  table.add("wan1", true, "startup");
  table.report_verdict("wan1", LinkState::up, "probes_ok");
  table.set_enabled("wan1", false);
  EXPECT_EQ(table.find("wan1")->state, LinkState::disabled);
  EXPECT_EQ(table.find("wan1")->reason, "admin");
  table.report_verdict("wan1", LinkState::up, "probes_ok");  // ignored while disabled
  table.report_verdict("wan1", LinkState::disabled, "x");    // only the administrator disables
  EXPECT_EQ(table.find("wan1")->state, LinkState::disabled);
  table.set_enabled("wan1", true);
  EXPECT_EQ(table.find("wan1")->state, LinkState::unknown);
  EXPECT_EQ(seen.back(), "wan1 disabled->unknown (admin)");
}

TEST_F(Table, AddedDisabledLinksStartDisabledWithoutAnEvent) {
  table.add("wan2", false, "startup");
  EXPECT_EQ(table.find("wan2")->state, LinkState::disabled);
  EXPECT_TRUE(seen.empty());
  table.report_quality("wan2", LinkQuality{12.0, 1.0, 0.0});
  EXPECT_EQ(*table.find("wan2")->quality.latency_ms, 12.0);
  table.remove("wan2");
  EXPECT_FALSE(table.contains("wan2"));
  table.report_verdict("wan2", LinkState::up, "probes_ok");  // unknown names are ignored
  EXPECT_TRUE(seen.empty());
}

}  // namespace
}  // namespace uplink
