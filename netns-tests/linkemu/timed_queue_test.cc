#include "linkemu/timed_queue.h"

#include <gtest/gtest.h>

namespace uplink::linkemu {
namespace {

using namespace std::chrono_literals;
const TimePoint t0 = TimePoint{} + 10s;

TEST(TimedQueue, ReleasesInTimeOrderOnlyWhenDue) {
  TimedQueue<int> q;
  EXPECT_EQ(q.next_due(), TimePoint::max());
  q.push(t0 + 30ms, 3);
  q.push(t0 + 10ms, 1);
  q.push(t0 + 20ms, 2);
  EXPECT_EQ(q.next_due(), t0 + 10ms);
  EXPECT_FALSE(q.pop_due(t0 + 9ms));
  EXPECT_EQ(q.pop_due(t0 + 25ms), 1);
  EXPECT_EQ(q.pop_due(t0 + 25ms), 2);
  EXPECT_FALSE(q.pop_due(t0 + 25ms));
  EXPECT_EQ(q.pop_due(t0 + 30ms), 3);
  EXPECT_TRUE(q.empty());
}

TEST(TimedQueue, EqualTimesKeepArrivalOrder) {
  TimedQueue<int> q;
  for (int i = 0; i < 100; ++i) q.push(t0, i);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(q.pop_due(t0), i);
}

}  // namespace
}  // namespace uplink::linkemu
