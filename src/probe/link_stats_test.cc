#include "probe/link_stats.h"
#include "probe/neighbour_confirm.h"

#include <gtest/gtest.h>

namespace uplink::probe {
namespace {

using namespace std::chrono_literals;

TEST(RttEstimator, FirstSampleThenRfc6298Smoothing) {
  RttEstimator e;
  EXPECT_FALSE(e.has_sample());
  e.add(100ms);
  EXPECT_EQ(e.srtt(), 100ms);
  EXPECT_EQ(e.rttvar(), 50ms);
  EXPECT_EQ(e.jitter(), 0ms);
  e.add(200ms);
  // rttvar = 3/4*50 + 1/4*|100-200| = 62.5; srtt = 7/8*100 + 1/8*200 = 112.5
  EXPECT_EQ(e.rttvar(), 62500us);
  EXPECT_EQ(e.srtt(), 112500us);
  // jitter = 0 + (100 - 0)/16
  EXPECT_EQ(e.jitter(), 6250us);
  EXPECT_EQ(*e.last(), 200ms);
}

double msf(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TEST(RttEstimator, JitterConvergesToMeanAbsoluteDifference) {
  RttEstimator e;
  for (int i = 0; i < 400; ++i) e.add(i % 2 ? 30ms : 10ms);
  EXPECT_NEAR(msf(e.jitter()), 20.0, 0.1);
  EXPECT_NEAR(msf(e.srtt()), 20.0, 1.5);
}

TEST(TimeoutPolicy, InitialThenClampedRto) {
  TimeoutPolicy p;
  RttEstimator e;
  EXPECT_EQ(p.compute(e), 1s);
  e.add(2ms);
  EXPECT_EQ(p.compute(e), 50ms);  // 2 + 4*1 = 6ms, clamped up
  RttEstimator sat;
  sat.add(600ms);                  // 600 + 4*300 = 1800ms
  EXPECT_EQ(p.compute(sat), 1800ms);
  RttEstimator huge;
  huge.add(2s);
  EXPECT_EQ(p.compute(huge), 3s);
  p.initial = 300ms;
  EXPECT_EQ(p.compute(RttEstimator{}), 300ms);
}

TEST(LossWindow, SlidesOverLastN) {
  LossWindow w(4);
  w.add(true);
  w.add(true);
  w.add(false);
  w.add(false);
  EXPECT_EQ(w.lost(), 2u);
  w.add(false);
  w.add(false);
  EXPECT_EQ(w.lost(), 0u);
  EXPECT_EQ(w.samples(), 4u);
  w.clear();
  EXPECT_EQ(w.samples(), 0u);
}

TEST(RateMeter, BytesPerSecondOverSpan) {
  RateMeter r(10s);
  TimePoint t0{};
  EXPECT_FALSE(r.per_second());
  for (int i = 0; i <= 30; ++i) r.sample(t0 + i * 1s, static_cast<uint64_t>(i) * 132);
  ASSERT_TRUE(r.per_second());
  EXPECT_DOUBLE_EQ(*r.per_second(), 132.0);
}

TEST(Aggregate, DeadTargetDoesNotCountAsPathLoss) {
  std::vector<TargetStats> t(3, TargetStats(10));
  for (int i = 0; i < 10; ++i) {
    t[0].on_reply(10ms);
    t[1].on_reply(30ms);
    t[2].on_lost(false);
  }
  t[1].on_lost(false);  // one loss in 20 live samples
  LinkFigures f = aggregate(t);
  ASSERT_TRUE(f.loss_pct);
  EXPECT_DOUBLE_EQ(*f.loss_pct, 5.0);
  EXPECT_EQ(f.loss_samples, 20u);
  EXPECT_EQ(*f.latency, 20ms);
  // All dead: the loss figure says so.
  std::vector<TargetStats> dead(2, TargetStats(5));
  for (int i = 0; i < 5; ++i)
    for (auto& d : dead) d.on_lost(true);
  EXPECT_DOUBLE_EQ(*aggregate(dead).loss_pct, 100.0);
  EXPECT_EQ(dead[0].counters.errors, 5u);
}

}  // namespace
}  // namespace uplink::probe

namespace uplink::probe {
namespace {
using namespace std::chrono_literals;

TEST(NeighbourConfirm, ConfirmsOnlyWhileRepliesAreRecent) {
  TimePoint t0{};
  NeighbourConfirm c(15s);
  EXPECT_EQ(c.send_flags(t0), 0);  // never answered: let the kernel resolve
  c.on_reply(t0 + 1s);
  EXPECT_EQ(c.send_flags(t0 + 1s), MSG_CONFIRM);
  EXPECT_EQ(c.send_flags(t0 + 16s), MSG_CONFIRM);
  EXPECT_EQ(c.send_flags(t0 + 16s + 1ms), 0);  // silent for longer than `fresh`
  c.on_reply(t0 + 20s);
  EXPECT_EQ(c.send_flags(t0 + 21s), MSG_CONFIRM);
}

TEST(TargetStats, LateReplyRaisesTheTimeoutFloorCappedAndInTimeRepliesDecayIt) {
  TargetStats s(20);
  TimeoutPolicy p;
  for (int i = 0; i < 10; ++i) s.on_reply(10ms);
  Duration base = p.compute(s.rtt, s.late_floor);
  s.on_late(1500ms, 4 * base);
  EXPECT_EQ(s.rtt.srtt(), 10ms);  // latency untouched
  EXPECT_EQ(p.compute(s.rtt, s.late_floor), std::max(4 * base, p.min));
  s.on_late(100ms, 3s);
  EXPECT_EQ(s.late_floor, std::max(4 * base, Duration(150ms)));
  for (int i = 0; i < 60; ++i) s.on_reply(10ms);
  EXPECT_EQ(p.compute(s.rtt, s.late_floor), p.compute(s.rtt));
}

}  // namespace
}  // namespace uplink::probe
