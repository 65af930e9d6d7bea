#include "linkemu/link_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace uplink::linkemu {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = TimePoint{} + 1000s;

LinkParams with(auto f) {
  LinkParams p;
  f(p);
  return p;
}

TEST(LinkModel, TransparentByDefault) {
  LinkModel m;
  auto v = m.on_frame(t0, 100);
  EXPECT_EQ(v.kind, Verdict::Kind::forward);
  EXPECT_EQ(v.depart, t0);
}

TEST(LinkModel, FixedDelay) {
  LinkModel m;
  m.set_params(with([](auto& p) { p.delay = 50ms; }));
  for (int i = 0; i < 10; ++i) {
    auto v = m.on_frame(t0 + i * 1ms, 100);
    ASSERT_EQ(v.kind, Verdict::Kind::forward);
    EXPECT_EQ(v.depart, t0 + i * 1ms + 50ms);
  }
}

TEST(LinkModel, JitterStaysInRangeAndKeepsOrder) {
  LinkModel m(7);
  m.set_params(with([](auto& p) { p.delay = 20ms; p.jitter = 5ms; }));
  TimePoint last{};
  Duration lo = Duration::max(), hi = Duration::min();
  Duration sum{0};
  for (int i = 0; i < 2000; ++i) {
    TimePoint at = t0 + i * 1ms;
    auto v = m.on_frame(at, 100);
    ASSERT_EQ(v.kind, Verdict::Kind::forward);
    EXPECT_GE(v.depart, last) << "frame " << i << " overtook an earlier one";
    last = v.depart;
    Duration d = v.depart - at;
    EXPECT_GE(d, 15ms);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    EXPECT_LE(d, 25ms);
    sum += d;
  }
  EXPECT_LT(lo, 16ms);
  EXPECT_GT(hi, 24ms);
  // Frames held back behind a slower predecessor push the mean above the nominal delay.
  EXPECT_GT(sum / 2000, 21ms);
}

TEST(LinkModel, JitterWithReorderStaysWithinBounds) {
  LinkModel m(7);
  m.set_params(with([](auto& p) { p.delay = 20ms; p.jitter = 5ms; p.reorder = true; }));
  int overtakes = 0;
  TimePoint last{};
  for (int i = 0; i < 2000; ++i) {
    TimePoint at = t0 + i * 1ms;
    auto v = m.on_frame(at, 100);
    EXPECT_GE(v.depart - at, 15ms);
    EXPECT_LE(v.depart - at, 25ms);
    if (v.depart < last) ++overtakes;
    last = std::max(last, v.depart);
  }
  EXPECT_GT(overtakes, 100);
}

TEST(LinkModel, RandomLossRate) {
  LinkModel m(42);
  m.set_params(with([](auto& p) { p.loss_pct = 10; }));
  const int n = 100000;
  int lost = 0;
  for (int i = 0; i < n; ++i) lost += m.on_frame(t0 + i * 1us, 100).kind == Verdict::Kind::lost;
  // sd = sqrt(n p (1-p)) ~ 95: allow 5 sd.
  EXPECT_NEAR(lost, 10000, 475);
  EXPECT_EQ(m.counters().lost, static_cast<uint64_t>(lost));
}

// Mean length of runs of consecutive losses.
double mean_burst(LinkModel& m, int n, int* lost_out) {
  int lost = 0, runs = 0;
  bool prev = false;
  for (int i = 0; i < n; ++i) {
    bool l = m.on_frame(t0 + i * 1us, 100).kind == Verdict::Kind::lost;
    lost += l;
    if (l && !prev) ++runs;
    prev = l;
  }
  *lost_out = lost;
  return runs ? static_cast<double>(lost) / runs : 0;
}

TEST(LinkModel, GilbertElliottBurstsKeepTheLongRunRate) {
  LinkModel m(3);
  m.set_params(with([](auto& p) { p.loss_pct = 5; p.burst = 8; }));
  int lost = 0;
  double burst = mean_burst(m, 200000, &lost);
  EXPECT_NEAR(lost / 200000.0, 0.05, 0.01);
  EXPECT_NEAR(burst, 8.0, 1.0);

  LinkModel indep(3);
  indep.set_params(with([](auto& p) { p.loss_pct = 5; }));
  EXPECT_LT(mean_burst(indep, 200000, &lost), 1.2);
}

TEST(LinkModel, FullLoss) {
  LinkModel m;
  m.set_params(with([](auto& p) { p.loss_pct = 100; p.burst = 4; }));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(m.on_frame(t0 + i * 1ms, 100).kind, Verdict::Kind::lost);
}

TEST(LinkModel, BlackholeDropsEverythingAndCounts) {
  LinkModel m;
  m.set_params(with([](auto& p) { p.blackhole = true; p.delay = 10ms; }));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(m.on_frame(t0, 100).kind, Verdict::Kind::blackhole);
  EXPECT_EQ(m.counters().blackholed, 5u);
  m.set_params(LinkParams{});
  EXPECT_EQ(m.on_frame(t0 + 1ms, 100).kind, Verdict::Kind::forward);
}

TEST(LinkModel, RatePacesFramesAtTheConfiguredRate) {
  LinkModel m;
  // 8000 kbit/s = 1000 bytes per ms; depth 1000 bytes = one frame passes at once.
  m.set_params(with([](auto& p) { p.rate_kbit = 8000; p.rate_burst_bytes = 1000; p.queue_bytes = 1000000; }));
  std::vector<TimePoint> out;
  for (int i = 0; i < 100; ++i) {  // a back-to-back burst, all at t0
    auto v = m.on_frame(t0, 1000);
    ASSERT_EQ(v.kind, Verdict::Kind::forward);
    out.push_back(v.depart);
  }
  EXPECT_EQ(out[0], t0);
  EXPECT_EQ(out[1], t0);  // within the bucket depth
  for (size_t i = 2; i < out.size(); ++i) EXPECT_EQ(out[i] - out[i - 1], 1ms);
}

TEST(LinkModel, RateTailDropsBeyondTheQueueLimit) {
  LinkModel m;
  m.set_params(with([](auto& p) { p.rate_kbit = 8000; p.rate_burst_bytes = 1000; p.queue_bytes = 10000; }));
  int fwd = 0, drops = 0;
  for (int i = 0; i < 100; ++i) {
    auto k = m.on_frame(t0, 1000).kind;
    fwd += k == Verdict::Kind::forward;
    drops += k == Verdict::Kind::queue_full;
  }
  EXPECT_GE(fwd, 10);
  EXPECT_LE(fwd, 12);
  EXPECT_EQ(fwd + drops, 100);
  EXPECT_EQ(m.counters().queue_drops, static_cast<uint64_t>(drops));
  // Once the queue has drained the line accepts again.
  EXPECT_EQ(m.on_frame(t0 + 50ms, 1000).kind, Verdict::Kind::forward);
}

TEST(LinkModel, LongRunThroughputMatchesRate) {
  LinkModel m;
  m.set_params(with([](auto& p) { p.rate_kbit = 2000; }));
  // Offer 4 Mbit/s (1000-byte frames every 2 ms) for 10 s.
  TimePoint last{};
  uint64_t bytes = 0;
  for (int i = 0; i < 5000; ++i) {
    auto v = m.on_frame(t0 + i * 2ms, 1000);
    if (v.kind == Verdict::Kind::forward) {
      bytes += 1000;
      last = v.depart;
    }
  }
  double secs = std::chrono::duration<double>(last - t0).count();
  double kbit = bytes * 8 / secs / 1000;
  EXPECT_NEAR(kbit, 2000, 20);
}

TEST(LinkModel, ChangeKeepsScheduledFramesAndFifo) {
  LinkModel m;
  m.set_params(with([](auto& p) { p.delay = 100ms; }));
  auto first = m.on_frame(t0, 100);
  m.set_params(with([](auto& p) { p.delay = 10ms; }));
  auto second = m.on_frame(t0 + 1ms, 100);
  EXPECT_EQ(first.depart, t0 + 100ms);
  // FIFO: the faster setting does not let the new frame overtake the queued one.
  EXPECT_EQ(second.depart, t0 + 100ms);
  auto later = m.on_frame(t0 + 200ms, 100);
  EXPECT_EQ(later.depart, t0 + 210ms);
}

TEST(LinkModel, RateBacklogReported) {
  LinkModel m;
  m.set_params(with([](auto& p) { p.rate_kbit = 8000; p.rate_burst_bytes = 1000; p.queue_bytes = 100000; }));
  for (int i = 0; i < 11; ++i) (void)m.on_frame(t0, 1000);
  EXPECT_EQ(m.rate_backlog_bytes(t0), 10000u);
  EXPECT_EQ(m.rate_backlog_bytes(t0 + 5ms), 5000u);
  EXPECT_EQ(m.rate_backlog_bytes(t0 + 20ms), 0u);
}

}  // namespace
}  // namespace uplink::linkemu
