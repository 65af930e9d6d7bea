#include "common/clock.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace uplink {
namespace {

using namespace std::chrono_literals;

TEST(FakeTime, FiresInDeadlineOrderWithTiesInArmingOrder) {
  FakeTimeSource time;
  std::vector<std::string> fired;
  auto a = time.make_timer(), b = time.make_timer(), c = time.make_timer(), d = time.make_timer();
  const TimePoint start = time.now();
  a->arm(30ms, [&] { fired.push_back("a@" + std::to_string((time.now() - start) / 1ms)); });
  b->arm(10ms, [&] { fired.push_back("b@" + std::to_string((time.now() - start) / 1ms)); });
  c->arm(20ms, [&] { fired.push_back("c@" + std::to_string((time.now() - start) / 1ms)); });
  d->arm(10ms, [&] { fired.push_back("d@" + std::to_string((time.now() - start) / 1ms)); });
  EXPECT_EQ(time.pending(), 4u);
  EXPECT_EQ(time.next_deadline(), start + 10ms);
  time.advance(25ms);
  EXPECT_EQ(fired, (std::vector<std::string>{"b@10", "d@10", "c@20"}));
  EXPECT_EQ(time.now(), start + 25ms);  // time ends where asked, not at the last deadline
  EXPECT_TRUE(a->armed());
  EXPECT_FALSE(b->armed());
  time.advance(5ms);
  EXPECT_EQ(fired.back(), "a@30");
  EXPECT_EQ(time.pending(), 0u);
  EXPECT_EQ(time.next_deadline(), TimePoint::max());
}

TEST(FakeTime, NothingFiresBeforeItsDeadline) {
  FakeTimeSource time;
  int n = 0;
  auto t = time.make_timer();
  t->arm(100ms, [&] { ++n; });
  time.advance(99ms);
  EXPECT_EQ(n, 0);
  time.advance(1ms);
  EXPECT_EQ(n, 1);
  time.advance(1h);
  EXPECT_EQ(n, 1);  // one-shot
}

TEST(FakeTime, CancelPreventsTheCallback) {
  FakeTimeSource time;
  int n = 0;
  auto t = time.make_timer();
  t->arm(10ms, [&] { ++n; });
  t->cancel();
  EXPECT_FALSE(t->armed());
  EXPECT_EQ(time.pending(), 0u);
  time.advance(1s);
  EXPECT_EQ(n, 0);
  t->cancel();  // cancelling an idle timer is harmless
}

TEST(FakeTime, RearmReplacesThePendingCallback) {
  FakeTimeSource time;
  std::vector<int> fired;
  auto t = time.make_timer();
  t->arm(10ms, [&] { fired.push_back(1); });
  t->arm(50ms, [&] { fired.push_back(2); });
  EXPECT_EQ(time.pending(), 1u);
  time.advance(10ms);
  EXPECT_TRUE(fired.empty());
  time.advance(40ms);
  EXPECT_EQ(fired, std::vector<int>{2});
}

TEST(FakeTime, CallbackMayRearmItsOwnTimer) {
  FakeTimeSource time;
  int n = 0;
  auto t = time.make_timer();
  std::function<void()> tick = [&] {
    ++n;
    t->arm(100ms, tick);
  };
  t->arm(100ms, tick);
  time.advance(1s);
  EXPECT_EQ(n, 10);
  EXPECT_TRUE(t->armed());
}

TEST(FakeTime, DestroyingATimerCancelsIt) {
  FakeTimeSource time;
  int n = 0;
  {
    auto t = time.make_timer();
    t->arm(10ms, [&] { ++n; });
  }
  EXPECT_EQ(time.pending(), 0u);
  time.advance(1s);
  EXPECT_EQ(n, 0);
}

TEST(FakeTime, CallbackMayDestroyAnotherDueTimer) {
  FakeTimeSource time;
  int second = 0;
  auto b = time.make_timer();
  auto a = time.make_timer();
  a->arm(10ms, [&] { b.reset(); });
  b->arm(10ms, [&] { ++second; });
  time.advance(10ms);
  EXPECT_EQ(second, 0);
  EXPECT_EQ(time.pending(), 0u);
}

TEST(FakeTime, CallbackMayDestroyItsOwnTimer) {
  FakeTimeSource time;
  int n = 0;
  auto t = time.make_timer();
  t->arm(10ms, [&] {
    ++n;
    t.reset();
  });
  time.advance(10ms);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(t, nullptr);
}

TEST(FakeTime, RunDueFiresZeroDelayTimersWithoutMovingTime) {
  FakeTimeSource time;
  const TimePoint start = time.now();
  int n = 0;
  auto t = time.make_timer();
  auto later = time.make_timer();
  t->arm(0ms, [&] { ++n; });
  later->arm(1ms, [&] { ++n; });
  time.run_due();
  EXPECT_EQ(n, 1);
  EXPECT_EQ(time.now(), start);
  // A negative delay is "now".
  t->arm(-5ms, [&] { n += 10; });
  time.run_due();
  EXPECT_EQ(n, 11);
}

TEST(FakeTime, RunUntilAnEarlierTimeDoesNotGoBack) {
  FakeTimeSource time;
  const TimePoint start = time.now();
  time.run_until(start - 1s);
  EXPECT_EQ(time.now(), start);
}

TEST(FakeTime, WallClockMovesWithSteadyTime) {
  FakeTimeSource time;
  EXPECT_EQ(format_wall_time(time.wall_now()), "2026-11-26T10:00:00.000Z");
  time.advance(1500ms);
  EXPECT_EQ(format_wall_time(time.wall_now()), "2026-11-26T10:00:01.500Z");
  time.advance(14h);
  EXPECT_EQ(format_wall_time(time.wall_now()), "2026-11-27T00:00:01.500Z");
}

TEST(FormatWallTime, Iso8601UtcWithMilliseconds) {
  using namespace std::chrono;
  EXPECT_EQ(format_wall_time(WallTime{}), "1970-01-01T00:00:00.000Z");
  WallTime t = sys_days{year{2024} / 2 / 29} + 23h + 59min + 59s + 999ms;
  EXPECT_EQ(format_wall_time(t), "2024-02-29T23:59:59.999Z");
  // Sub-millisecond parts are truncated, not rounded up into the next second.
  EXPECT_EQ(format_wall_time(t + 999us), "2024-02-29T23:59:59.999Z");
}

}  // namespace
}  // namespace uplink
