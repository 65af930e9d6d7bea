// SIM-slot failover decisions over simulated time (no sleeps).
#include "cellular/sim_failover.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace uplink::cellular {
namespace {

using namespace std::chrono_literals;

SimFailoverConfig config() {
  SimFailoverConfig c;
  c.slots = {1, 2};
  c.switch_after = 2min;
  c.connect_timeout = 120s;
  c.min_dwell = 10min;
  c.max_switches_per_hour = 3;
  c.return_after = 1h;
  return c;
}

const WallTime t0 = WallTime(std::chrono::hours(24 * 365 * 50));

TEST(SimFailover, SwitchesAfterSwitchAfterUnusable) {
  SimFailover f(config(), {});
  EXPECT_EQ(f.current_slot(), 1);
  EXPECT_FALSE(f.evaluate(t0, false));
  EXPECT_FALSE(f.evaluate(t0 + 119s, false));
  auto d = f.evaluate(t0 + 120s, false);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->slot, 2);
  EXPECT_EQ(d->reason, "unusable");
}

TEST(SimFailover, UsableResetsTheClock) {
  SimFailover f(config(), {});
  EXPECT_FALSE(f.evaluate(t0, false));
  EXPECT_FALSE(f.evaluate(t0 + 100s, true));
  EXPECT_FALSE(f.evaluate(t0 + 110s, false));
  EXPECT_FALSE(f.evaluate(t0 + 200s, false));  // only 90 s unusable
  EXPECT_TRUE(f.evaluate(t0 + 230s, false));
}

TEST(SimFailover, NoDataAfterSwitchMovesOnButMinDwellOtherwiseHolds) {
  SimFailover f(config(), {});
  f.evaluate(t0, false);
  auto d = f.evaluate(t0 + 2min, false);
  ASSERT_TRUE(d);
  f.switched(d->slot, t0 + 2min);
  // connect_timeout (120 s) without data on slot 2: back to 1 despite min_dwell (10 min).
  EXPECT_FALSE(f.evaluate(t0 + 3min, false));
  auto d2 = f.evaluate(t0 + 4min, false);
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->slot, 1);
  EXPECT_EQ(d2->reason, "no_data_after_switch");
  f.switched(1, t0 + 4min);
  // Data flowed on 1, then it fails again: switch_after alone is not enough, min_dwell holds.
  EXPECT_FALSE(f.evaluate(t0 + 5min, true));
  EXPECT_FALSE(f.evaluate(t0 + 6min, false));
  EXPECT_FALSE(f.evaluate(t0 + 9min, false));  // 3 min unusable, only 5 min since the switch
  auto d3 = f.evaluate(t0 + 14min, false);
  ASSERT_TRUE(d3);
  EXPECT_EQ(d3->reason, "unusable");
}

TEST(SimFailover, ReturnsToThePreferredSlotAfterReturnAfter) {
  SimState s;
  s.slot = 2;
  s.last_switch = t0;
  s.switches = {t0};
  SimFailover f(config(), s);
  f.observe_slot(2);
  EXPECT_FALSE(f.evaluate(t0 + 1min, true));
  EXPECT_FALSE(f.evaluate(t0 + 59min, true));
  auto d = f.evaluate(t0 + 61min, true);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->slot, 1);
  EXPECT_EQ(d->reason, "return_to_preferred");
}

// A simulated hour (and more) of a link that flaps every 30 s, evaluated every
// second: never more than max_switches_per_hour in any 60-minute window.
TEST(SimFailover, AnHourOfFlappingNeverExceedsTheLimit) {
  SimFailoverConfig c = config();
  c.switch_after = 10s;
  c.min_dwell = 0s;
  c.connect_timeout = 20s;
  SimFailover f(c, {});
  std::vector<WallTime> switches;
  for (int s = 0; s < 3 * 3600; ++s) {
    const WallTime now = t0 + std::chrono::seconds(s);
    const bool usable = (s / 30) % 2 == 0 && s % 7 != 0;
    if (auto d = f.evaluate(now, usable)) {
      f.switched(d->slot, now);
      switches.push_back(now);
    }
  }
  ASSERT_GE(switches.size(), 3u);  // it did switch
  for (size_t i = 0; i < switches.size(); ++i) {
    int in_window = 0;
    for (size_t j = i; j < switches.size() && switches[j] - switches[i] < 1h; ++j) ++in_window;
    EXPECT_LE(in_window, 3) << "window starting at switch " << i;
  }
  EXPECT_LE(switches.size(), 9u);  // 3 hours x 3
}

// A crash loop: each "run" starts from the persisted state and sees the
// link unusable; the budget still holds across runs.
TEST(SimFailover, PersistedStateKeepsTheBudgetAcrossRestarts) {
  SimFailoverConfig c = config();
  c.switch_after = 5s;
  c.min_dwell = 0s;
  SimState persisted;
  int total = 0;
  for (int run = 0; run < 120; ++run) {  // a restart every 30 s for an hour
    const WallTime start = t0 + std::chrono::seconds(30 * run);
    auto json = to_json(persisted);
    auto state = sim_state_from_json(json);
    ASSERT_TRUE(state);
    SimFailover f(c, *state);
    for (int s = 0; s < 30; ++s) {
      const WallTime now = start + std::chrono::seconds(s);
      if (auto d = f.evaluate(now, false)) {
        f.switched(d->slot, now);
        ++total;
      }
    }
    persisted = f.state();
  }
  EXPECT_EQ(total, 3);
}

TEST(SimFailover, LimitedIsReportedOnce) {
  SimFailoverConfig c = config();
  c.switch_after = 1s;
  c.min_dwell = 0s;
  c.max_switches_per_hour = 1;
  SimFailover f(c, {});
  f.evaluate(t0, false);
  auto d = f.evaluate(t0 + 1s, false);
  ASSERT_TRUE(d);
  f.switched(d->slot, t0 + 1s);
  f.evaluate(t0 + 2s, true);
  for (int s = 3; s < 200; ++s) EXPECT_FALSE(f.evaluate(t0 + std::chrono::seconds(s), false));
  EXPECT_TRUE(f.take_limited());
  EXPECT_FALSE(f.take_limited());
}

TEST(SimFailover, NextDeadlineIsWhenADecisionFalls) {
  SimFailover f(config(), {});
  EXPECT_FALSE(f.next_deadline(t0));
  f.evaluate(t0, false);
  EXPECT_EQ(f.next_deadline(t0 + 1s), t0 + 2min);
}

TEST(SimFailover, MalformedStateIsRejected) {
  EXPECT_FALSE(sim_state_from_json(nlohmann::json::parse(R"({"slot": "x"})")));
  EXPECT_FALSE(sim_state_from_json(nlohmann::json::parse(R"({"slot": 12, "switches_ms": []})")));
  EXPECT_FALSE(sim_state_from_json(nlohmann::json::array()));
}

}  // namespace
}  // namespace uplink::cellular
