#include "uplink/replay.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "uplink/test_support.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

class FakeTransport final : public Transport {
 public:
  bool up = false;
  std::vector<uint64_t> sent;              // message ids, in publish order
  std::map<int, uint64_t> inflight;        // token -> id
  int next = 1;
  bool connected() const override { return up; }
  Result<int> publish(const StoredMessage& m) override {
    if (!up) return make_error("not connected");
    sent.push_back(m.id);
    inflight[next] = m.id;
    return next++;
  }
};

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QueueOptions o;
    o.dir = dir.sub("q");
    o.commit_interval = 10ms;
    o.classes = {{"alarm", 24h}, {"telemetry", 1h}};
    queue = std::make_unique<DurableQueue>(time, worker, results, o);
    ReplayOptions r;
    r.window = 4;
    r.backlog_window = 2;
    r.replay_rate = 1000;  // one per ms
    r.fetch = 8;
    dispatcher = std::make_unique<Dispatcher>(time, *queue, transport, r);
    queue->on_committed = [this](std::vector<StoredMessage>& m) { dispatcher->committed(m); };
    queue->on_removed = [this](const std::vector<uint64_t>& ids) { dispatcher->removed(ids); };
    queue->start();
    settle();
  }
  void settle() {
    for (int i = 0; i < 100 && (worker.pending() || results.pending()); ++i) {
      worker.run_all();
      results.run_all();
    }
  }
  void push(const std::string& cls, int n) {
    for (int i = 0; i < n; ++i) queue->push(Message{cls, "", "payload", {}}, nullptr);
  }
  void commit() {
    time.advance(10ms);
    settle();
  }
  void ack_all(PubackResult r = PubackResult::ok) {
    auto in = transport.inflight;
    transport.inflight.clear();
    for (auto [token, id] : in) dispatcher->puback(token, r);
    settle();
  }

  testing::ScratchDir dir;
  FakeTimeSource time;
  ManualExecutor worker, results;
  FakeTransport transport;
  std::unique_ptr<DurableQueue> queue;
  std::unique_ptr<Dispatcher> dispatcher;
};

TEST_F(ReplayTest, LiveMessagesOvertakeTheBacklogWhichDrainsOldestFirstByClass) {
  push("telemetry", 6);  // 1..6, queued during the outage
  push("alarm", 3);      // 7..9
  commit();
  EXPECT_TRUE(transport.sent.empty());
  transport.up = true;
  dispatcher->connected();
  settle();
  push("telemetry", 2);  // 10, 11: live
  commit();              // the pacing timer fired meanwhile: some backlog went first
  auto live_at = std::find(transport.sent.begin(), transport.sent.end(), 10u);
  ASSERT_NE(live_at, transport.sent.end());
  EXPECT_LE(transport.sent.size(), 4u);  // window
  // Backlog never takes more than its share of the window.
  size_t backlog_in_flight = 0;
  for (auto [t, id] : transport.inflight) backlog_in_flight += id < 10;
  EXPECT_LE(backlog_in_flight, 2u);
  for (int i = 0; i < 50 && queue->depth() > 0; ++i) {
    ack_all();
    time.advance(1ms);
    settle();
    time.advance(10ms);
    settle();
  }
  EXPECT_EQ(queue->depth(), 0u);
  std::vector<uint64_t> backlog;
  for (auto id : transport.sent)
    if (id < 10) backlog.push_back(id);
  // Alarms (more important) first, then telemetry; oldest first within each.
  EXPECT_EQ(backlog, (std::vector<uint64_t>{7, 8, 9, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(dispatcher->sent_live(), 2u);
  EXPECT_EQ(dispatcher->sent_backlog(), 9u);
}

TEST_F(ReplayTest, LiveIsSentAtOnceWhileTheBacklogIsPaced) {
  push("telemetry", 50);
  commit();
  transport.up = true;
  dispatcher->connected();
  settle();
  for (int step = 0; step < 5; ++step) {
    push("alarm", 1);
    size_t before = transport.sent.size();
    commit();
    // The new message went out in the commit's turn, without waiting for the backlog.
    ASSERT_GT(transport.sent.size(), before);
    EXPECT_GE(transport.sent.back(), 51u);
    ack_all();
  }
}

TEST_F(ReplayTest, BacklogIsPacedAtReplayRate) {
  push("telemetry", 200);
  commit();
  transport.up = true;
  dispatcher->connected();
  settle();
  // 1000/s with acks coming back at once: about 100 in 100 ms (plus the burst), never all 200.
  for (int i = 0; i < 100; ++i) {
    time.advance(1ms);
    settle();
    ack_all();
  }
  EXPECT_GE(transport.sent.size(), 90u);
  EXPECT_LE(transport.sent.size(), 110u);
}

TEST_F(ReplayTest, InflightMessagesAreSentAgainAfterAReconnectAndDeletedOnlyOnPuback) {
  transport.up = true;
  dispatcher->connected();
  push("alarm", 3);
  commit();
  EXPECT_EQ(transport.sent, (std::vector<uint64_t>{1, 2, 3}));
  transport.up = false;
  transport.inflight.clear();
  dispatcher->disconnected();
  commit();
  EXPECT_EQ(queue->depth(), 3u);  // no PUBACK, nothing deleted
  transport.up = true;
  dispatcher->connected();
  settle();
  for (int i = 0; i < 10; ++i) {  // the backlog holds at most 2 of the window
    time.advance(1ms);
    settle();
    ack_all();
  }
  EXPECT_EQ(transport.sent, (std::vector<uint64_t>{1, 2, 3, 1, 2, 3}));
  commit();
  EXPECT_EQ(queue->depth(), 0u);
  EXPECT_EQ(dispatcher->resent(), 3u);
}

TEST_F(ReplayTest, RetryPubackSendsAgainAndRejectedIsDroppedAndCounted) {
  transport.up = true;
  dispatcher->connected();
  push("alarm", 2);
  commit();
  ASSERT_EQ(transport.inflight.size(), 2u);
  auto it = transport.inflight.begin();
  dispatcher->puback(it->first, PubackResult::retry);
  ++it;
  dispatcher->puback(it->first, PubackResult::rejected);
  transport.inflight.clear();
  for (int i = 0; i < 10; ++i) {
    time.advance(1ms);
    settle();
  }
  EXPECT_EQ(transport.sent, (std::vector<uint64_t>{1, 2, 1}));
  ack_all();
  commit();
  EXPECT_EQ(queue->depth(), 0u);
  EXPECT_EQ(queue->dropped(DropCause::rejected), 1u);
}

TEST_F(ReplayTest, ExpiredBacklogIsDroppedNotSent) {
  push("telemetry", 2);  // TTL 1h
  push("alarm", 1);      // TTL 24h
  commit();
  time.advance(61min);   // the sweep may run first; either way telemetry is never sent
  transport.up = true;
  dispatcher->connected();
  for (int i = 0; i < 10; ++i) {
    time.advance(1ms);
    settle();
  }
  EXPECT_EQ(transport.sent, (std::vector<uint64_t>{3}));
  ack_all();
  commit();
  EXPECT_EQ(queue->dropped(DropCause::ttl), 2u);
  EXPECT_EQ(queue->depth(), 0u);
}

}  // namespace
}  // namespace uplink
