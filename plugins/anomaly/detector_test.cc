// The detector on synthetic series with known anomalies, and its contract:
// deterministic, bounded state, no allocation per sample, causal.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

#include "detector.h"

// Counts heap allocations so a test can prove update() does none.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> g_allocs{0};
void* operator new(std::size_t n) {
  ++g_allocs;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace uplink::anomaly {
namespace {

constexpr int64_t kStart = int64_t{1388534400} * 1000000;  // 2014-01-01 00:00:00
constexpr int64_t kStep = int64_t{300} * 1000000;          // 5 minutes
constexpr double kPi = 3.14159265358979323846;

// Deterministic noise in [-0.5, 0.5).
struct Lcg {
  uint64_t s = 12345;
  double next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 11) / static_cast<double>(1ULL << 53) - 0.5;
  }
};

// Daily pattern (288 samples a day) with a little noise.
std::vector<double> daily(int n, double period = 288, int period_change_at = -1, double new_period = 0) {
  std::vector<double> v(n);
  Lcg rng;
  double phase = 0;
  for (int i = 0; i < n; ++i) {
    const double p = (period_change_at >= 0 && i >= period_change_at) ? new_period : period;
    phase += 2 * kPi / p;
    v[i] = 50 + 20 * std::sin(phase) + 1.0 * rng.next();
  }
  return v;
}

std::vector<int> alarms(const std::vector<double>& v, const Params& p = Params{}) {
  Detector d(p);
  std::vector<int> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const auto r = d.update(kStart + static_cast<int64_t>(i) * kStep, v[i]);
    EXPECT_GE(r.score, 0.0);
    EXPECT_LE(r.score, 1.0);
    EXPECT_EQ(r.alarm, r.score >= p.threshold) << i;
    if (r.alarm) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<int> between(const std::vector<int>& a, int lo, int hi) {
  std::vector<int> out;
  for (int i : a)
    if (i >= lo && i < hi) out.push_back(i);
  return out;
}

TEST(Detector, FitsTheMemoryBudget) {
  static_assert(sizeof(Detector) <= 64 * 1024, "state per stream must stay within 64 KiB");
  SUCCEED() << sizeof(Detector);
}

TEST(Detector, KnownSpikeIsFlaggedAtOnce) {
  auto v = daily(3000);
  v[2500] += 60;
  const auto a = alarms(v);
  // (The first day may alarm: the warm-up saw only half a cycle.)
  EXPECT_TRUE(between(a, 600, 2500).empty()) << "false alarm at " << between(a, 600, 2500)[0];
  ASSERT_FALSE(between(a, 2500, 2501).empty());
}

TEST(Detector, LevelShiftIsFlagged) {
  auto v = daily(3000);
  for (int i = 2500; i < 3000; ++i) v[i] += 35;
  const auto a = alarms(v);
  EXPECT_TRUE(between(a, 600, 2500).empty());
  const auto hit = between(a, 2500, 2520);
  ASSERT_FALSE(hit.empty());
  // One incident, not an alarm per row.
  EXPECT_LE(between(a, 2500, 3000).size(), 3u);
}

TEST(Detector, ChangedPeriodIsFlagged) {
  // The daily cycle suddenly runs twice as fast (same values, new timing).
  const auto v = daily(3500, 288, 2500, 144);
  const auto a = alarms(v);
  EXPECT_TRUE(between(a, 600, 2500).empty());
  ASSERT_FALSE(between(a, 2500, 2500 + 288).empty());
}

TEST(Detector, FlatLineNeverAlarms) {
  std::vector<double> v(3000, 7.25);
  Detector d;
  for (size_t i = 0; i < v.size(); ++i) {
    const auto r = d.update(kStart + static_cast<int64_t>(i) * kStep, v[i]);
    ASSERT_EQ(r.score, 0.0) << i;
  }
}

TEST(Detector, StationaryNoiseRarelyAlarms) {
  std::vector<double> v(4000);
  Lcg rng;
  for (auto& x : v) x = 10 + rng.next() + rng.next() + rng.next() + rng.next();  // ~ Gaussian, sd 0.58
  const auto a = alarms(v);
  // New extremes of the noise alarm a few times while it learns, then never.
  EXPECT_LE(between(a, 600, 4000).size(), 4u);
  EXPECT_TRUE(between(a, 2000, 4000).empty());
}

TEST(Detector, WorksWithoutTimestamps) {
  auto v = daily(3000);
  v[2500] -= 60;
  Detector d;
  std::vector<int> a;
  for (size_t i = 0; i < v.size(); ++i)
    if (d.update(v[i]).alarm) a.push_back(static_cast<int>(i));
  ASSERT_FALSE(between(a, 2500, 2501).empty());
}

TEST(Detector, DeterministicAndResettable) {
  auto v = daily(2000);
  v[1500] += 40;
  // Also with forget epochs inside the series: reset() restarts the epoch.
  Params short_epochs;
  short_epochs.forget = 300;
  for (const Params& p : {Params{}, short_epochs}) {
    Detector a(p), b(p);
    std::vector<double> first;
    for (size_t i = 0; i < v.size(); ++i) {
      const int64_t ts = kStart + static_cast<int64_t>(i) * kStep;
      const double sa = a.update(ts, v[i]).score;
      first.push_back(sa);
      ASSERT_EQ(sa, b.update(ts, v[i]).score) << i;
    }
    a.reset();
    for (size_t i = 0; i < v.size(); ++i)
      ASSERT_EQ(a.update(kStart + static_cast<int64_t>(i) * kStep, v[i]).score, first[i]) << p.forget << " " << i;
  }
}

TEST(Detector, NoAllocationPerSample) {
  auto v = daily(5000);
  v[4000] += 50;
  Detector d;
  const long before = g_allocs.load();
  double sink = 0;
  for (size_t i = 0; i < v.size(); ++i) sink += d.update(kStart + static_cast<int64_t>(i) * kStep, v[i]).score;
  EXPECT_EQ(g_allocs.load(), before);
  EXPECT_GT(sink, 0.0);
}

TEST(Detector, Causal) {
  // Feeding a different future never changes the past scores.
  auto v = daily(2000);
  auto w = v;
  for (int i = 1200; i < 2000; ++i) w[i] = 1000 - w[i];
  Detector a, b;
  for (int i = 0; i < 1200; ++i) {
    const int64_t ts = kStart + int64_t{i} * kStep;
    ASSERT_EQ(a.update(ts, v[i]).score, b.update(ts, w[i]).score) << i;
  }
}

TEST(Detector, WarmupScoresZeroAndCooldownCapsBelowThreshold) {
  Params p;
  auto v = daily(1000);
  for (int i = 700; i < 1000; ++i) v[i] += 200;  // stays anomalous for a while
  Detector d(p);
  int first = -1;
  for (int i = 0; i < 1000; ++i) {
    const auto r = d.update(kStart + int64_t{i} * kStep, v[i]);
    if (i < p.warmup) {
      ASSERT_EQ(r.score, 0.0);
      ASSERT_EQ(r.raw, 0.0);
    }
    if (r.alarm && i >= 700 && first < 0) first = i;
    if (first >= 0 && i > first && i <= first + p.cooldown) {
      ASSERT_FALSE(r.alarm) << i;
      ASSERT_LT(r.score, p.threshold) << i;
    }
  }
  EXPECT_GE(first, 700);
}

// Raw score of `probe` after learning `v` (no timestamps, smoothed channel
// off, so only the value channel speaks).
double probe_after(const std::vector<double>& v, double probe, const Params& p) {
  Detector d(p);
  for (double x : v) d.update(x);
  return d.raw_score(Detector::kNoTime, probe);
}

TEST(Detector, BinsAreNoFinerThanTheDataResolution) {
  // Counts that only take even values 10..20: an odd value in between is one
  // resolution step from values seen thousands of times, not a new value.
  std::vector<double> v(3000);
  Lcg rng;
  for (auto& x : v) x = 10 + 2 * std::floor(6 * (rng.next() + 0.5));
  Params p;
  p.smooth_weight = 0;
  EXPECT_LT(probe_after(v, 15, p), 0.5 * p.threshold);
  // A finer grid (no resolution floor) calls it novel.
  Params fine = p;
  fine.quantum = 0;
  EXPECT_GE(probe_after(v, 15, fine), fine.threshold);
  // A value two steps beyond the range is still novel either way.
  EXPECT_GE(probe_after(v, 24, p), p.threshold);
  // A two-valued warm-up (0 with spikes to 20) tells the gap between its
  // levels, not a resolution: no floor, so a value half-way is novel.
  std::vector<double> spikes(3000, 0.0);
  for (size_t i = 0; i < spikes.size(); i += 97) spikes[i] = 20;
  EXPECT_GE(probe_after(spikes, 10, p), p.threshold);
}

TEST(Detector, NewValueInsideTheRangeCountsInteriorWeight) {
  // Two levels (10 and 90, a little noise): a value in the gap between them
  // is novel but inside the range seen; one beyond the range is a new
  // extreme. Both are novel on every grid, so their scores differ by
  // exactly interior_weight.
  std::vector<double> v(3000);
  Lcg rng;
  for (auto& x : v) x = (rng.next() < 0 ? 10 : 90) + rng.next();
  Params p;
  p.smooth_weight = 0;
  const double inside = probe_after(v, 50, p);
  const double beyond = probe_after(v, 130, p);
  EXPECT_GT(beyond, 0.9);
  EXPECT_NEAR(inside, p.interior_weight * beyond, 1e-12);
  EXPECT_LT(inside, beyond);
  Params flat = p;
  flat.interior_weight = 1;
  EXPECT_NEAR(probe_after(v, 50, flat), probe_after(v, 130, flat), 1e-12);
}

TEST(Cooldown, OneAlarmThenQuiet) {
  Cooldown c(0.5, 3);
  bool alarm = false;
  EXPECT_EQ(c.step(0.2, alarm), 0.2);
  EXPECT_FALSE(alarm);
  EXPECT_EQ(c.step(0.9, alarm), 0.9);
  EXPECT_TRUE(alarm);
  for (int i = 0; i < 3; ++i) {
    EXPECT_LT(c.step(0.9, alarm), 0.5);
    EXPECT_FALSE(alarm);
  }
  EXPECT_EQ(c.step(0.9, alarm), 0.9);
  EXPECT_TRUE(alarm);
}

TEST(Cooldown, QuietGrowsWithRowsSeen) {
  // Quiet rows after an alarm: max(rows, frac x rows stepped so far).
  Cooldown c(0.5, 3, 0.5);
  bool alarm = false;
  for (int i = 0; i < 9; ++i) c.step(0.2, alarm);
  EXPECT_EQ(c.step(0.9, alarm), 0.9);  // row 10: quiet for max(3, 5) rows
  EXPECT_TRUE(alarm);
  for (int i = 0; i < 5; ++i) {
    EXPECT_LT(c.step(0.9, alarm), 0.5) << i;
    EXPECT_FALSE(alarm);
  }
  EXPECT_EQ(c.step(0.9, alarm), 0.9);
  EXPECT_TRUE(alarm);
  c.reset();
  EXPECT_EQ(c.step(0.9, alarm), 0.9);  // row 1 again: quiet for 3 rows
  EXPECT_TRUE(alarm);
  for (int i = 0; i < 3; ++i) EXPECT_LT(c.step(0.9, alarm), 0.5);
  EXPECT_EQ(c.step(0.9, alarm), 0.9);
  EXPECT_TRUE(alarm);
}

}  // namespace
}  // namespace uplink::anomaly
