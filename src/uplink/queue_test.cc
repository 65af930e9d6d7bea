#include "uplink/queue.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "uplink/test_support.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

class QueueTest : public ::testing::Test {
 protected:
  QueueOptions options(SyncMode sync = SyncMode::batch) {
    QueueOptions o;
    o.dir = dir.sub("q");
    o.sync = sync;
    o.commit_interval = 10ms;
    o.classes = {{"alarm", 24h}, {"telemetry", 1h}};
    return o;
  }
  std::unique_ptr<DurableQueue> make(QueueOptions o) {
    auto q = std::make_unique<DurableQueue>(time, worker, results, std::move(o));
    q->start();
    settle();
    return q;
  }
  // Runs the worker and the io side until neither has anything left.
  void settle() {
    for (int i = 0; i < 100 && (worker.pending() || results.pending()); ++i) {
      worker.run_all();
      results.run_all();
    }
  }
  static Message msg(std::string cls, size_t size = 100) { return Message{std::move(cls), "", std::string(size, 'm'), {}}; }

  testing::ScratchDir dir;
  FakeTimeSource time;
  ManualExecutor worker, results;
};

TEST_F(QueueTest, AcknowledgesOnlyAfterTheGroupCommit) {
  auto q = make(options());
  ASSERT_EQ(q->state(), DurableQueue::State::ready);
  std::vector<uint64_t> acked;
  for (int i = 0; i < 3; ++i) q->push(msg("telemetry"), [&](Result<uint64_t> r) { acked.push_back(*r); });
  EXPECT_EQ(worker.pending(), 0u);  // nothing before commit_interval
  time.advance(9ms);
  EXPECT_EQ(worker.pending(), 0u);
  time.advance(1ms);
  EXPECT_EQ(worker.pending(), 1u);  // one commit for the three
  EXPECT_TRUE(acked.empty());
  worker.run_all();
  EXPECT_TRUE(acked.empty());       // durable, but the answer is still on its way to the io thread
  results.run_all();
  EXPECT_EQ(acked, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(q->depth(), 3u);
  EXPECT_EQ(q->commits(), 1u);
}

TEST_F(QueueTest, SyncAlwaysCommitsAtOnceAndGroupsWhatArrivesMeanwhile) {
  auto q = make(options(SyncMode::always));
  int acked = 0;
  q->push(msg("alarm"), [&](Result<uint64_t> r) { acked += r.ok(); });
  EXPECT_EQ(worker.pending(), 1u);
  q->push(msg("alarm"), [&](Result<uint64_t> r) { acked += r.ok(); });
  q->push(msg("alarm"), [&](Result<uint64_t> r) { acked += r.ok(); });
  EXPECT_EQ(worker.pending(), 1u);  // a commit is running: the next two wait for it
  settle();
  EXPECT_EQ(acked, 3);
  EXPECT_EQ(q->commits(), 2u);
}

TEST_F(QueueTest, SyncNeverAcknowledgesAtOnce) {
  auto q = make(options(SyncMode::never));
  uint64_t id = 0;
  q->push(msg("alarm"), [&](Result<uint64_t> r) { id = *r; });
  EXPECT_EQ(id, 1u);
  time.advance(10ms);
  settle();
  EXPECT_EQ(q->depth(), 1u);
}

TEST_F(QueueTest, IdsAreMonotonicAcrossClassesAndRestarts) {
  std::vector<uint64_t> ids;
  {
    auto q = make(options());
    for (int i = 0; i < 4; ++i)
      q->push(msg(i % 2 ? "alarm" : "telemetry"), [&](Result<uint64_t> r) { ids.push_back(*r); });
    time.advance(10ms);
    settle();
    q->ack(ids[0]);
    q->ack(ids[1]);
    time.advance(10ms);
    settle();
    EXPECT_EQ(q->depth(), 2u);
    q->stop();
    settle();
  }
  auto q = make(options());
  EXPECT_EQ(q->depth(), 2u);  // unacknowledged messages survive
  q->push(msg("alarm"), [&](Result<uint64_t> r) { ids.push_back(*r); });
  time.advance(10ms);
  settle();
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(QueueTest, StopCommitsPendingAcks) {
  {
    auto q = make(options());
    q->push(msg("alarm"), nullptr);
    time.advance(10ms);
    settle();
    q->ack(1);
    q->stop();  // before the commit timer fired
    settle();
  }
  auto q = make(options());
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueueTest, FullDropsOldestOfLeastImportantClassAndCountsIt) {
  auto o = options();
  o.max_size = 4 * (100 + kRowOverhead);
  auto q = make(o);
  std::vector<std::string> results_seen;
  auto note = [&](Result<uint64_t> r) { results_seen.push_back(r.ok() ? std::to_string(*r) : r.error().message); };
  q->push(msg("telemetry"), note);  // 1
  q->push(msg("alarm"), note);      // 2
  q->push(msg("telemetry"), note);  // 3
  q->push(msg("alarm"), note);      // 4
  time.advance(10ms);
  settle();
  std::vector<uint64_t> removed;
  q->on_removed = [&](const std::vector<uint64_t>& ids) { removed.insert(removed.end(), ids.begin(), ids.end()); };
  q->push(msg("alarm"), note);      // 5: telemetry 1 goes
  time.advance(10ms);
  settle();
  EXPECT_EQ(removed, (std::vector<uint64_t>{1}));
  EXPECT_EQ(q->dropped(DropCause::full), 1u);
  auto cls = q->classes();
  EXPECT_EQ(cls[0].count, 3u);
  EXPECT_EQ(cls[1].count, 1u);
  // A telemetry message while alarms fill the store: it is itself the oldest
  // of the least important class once telemetry 3 is gone... telemetry 3 goes first.
  q->push(msg("telemetry"), note);  // 6: evicts 3 (older telemetry)
  time.advance(10ms);
  settle();
  EXPECT_EQ(removed, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(results_seen.back(), "6");
  EXPECT_EQ(q->dropped(DropCause::full), 2u);
}

TEST_F(QueueTest, TooLargeAndUnknownClassAreRefused) {
  auto o = options();
  o.max_message = 1000;
  auto q = make(o);
  std::string err;
  q->push(msg("alarm", 1001), [&](Result<uint64_t> r) { err = r.error().message; });
  EXPECT_NE(err.find("max_message"), std::string::npos);
  EXPECT_EQ(q->dropped(DropCause::too_large), 1u);
  q->push(msg("nope"), [&](Result<uint64_t> r) { err = r.error().message; });
  EXPECT_NE(err.find("unknown class 'nope'"), std::string::npos);
  uint64_t id = 0;
  q->push(Message{"", "", "x", {}}, [&](Result<uint64_t> r) { id = *r; });  // default: least important
  time.advance(10ms);
  settle();
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(q->classes()[1].count, 1u);
}

TEST_F(QueueTest, TtlExpiryIsCountedAndRemoves) {
  auto q = make(options());
  q->push(msg("telemetry"), nullptr);
  q->push(Message{"alarm", "", "x", 30min}, nullptr);  // own TTL shorter than the class's
  q->push(msg("alarm"), nullptr);
  time.advance(10ms);
  settle();
  EXPECT_EQ(q->depth(), 3u);
  std::vector<uint64_t> removed;
  q->on_removed = [&](const std::vector<uint64_t>& ids) { removed.insert(removed.end(), ids.begin(), ids.end()); };
  // Fake time jumps: the sweep that fires during the jump runs with its own
  // (earlier) time; the next tick sees the present.
  time.advance(31min);
  settle();
  time.advance(1s);
  settle();
  EXPECT_EQ(removed, (std::vector<uint64_t>{2}));
  time.advance(30min);  // telemetry TTL is 1h
  settle();
  time.advance(1s);
  settle();
  EXPECT_EQ(q->dropped(DropCause::ttl), 2u);
  EXPECT_EQ(q->depth(), 1u);
  EXPECT_TRUE(q->classes()[0].oldest_age.has_value());
}

TEST_F(QueueTest, CorruptStoreAtStartIsMovedAsideWithAnAlarm) {
  std::filesystem::create_directories(dir.sub("q"));
  {
    std::ofstream f(dir.sub("q/queue.db"));
    f << std::string(10000, '\x01');
  }
  auto q = std::make_unique<DurableQueue>(time, worker, results, options());
  std::string alarm;
  q->on_alarm = [&](const std::string& a) { alarm = a; };
  q->start();
  settle();
  EXPECT_EQ(q->state(), DurableQueue::State::ready);
  EXPECT_NE(alarm.find("moved aside"), std::string::npos) << alarm;
  bool aside = false;
  for (auto& e : std::filesystem::directory_iterator(dir.sub("q")))
    aside |= e.path().filename().string().find("queue.db.corrupt-") == 0;
  EXPECT_TRUE(aside);
  uint64_t id = 0;
  q->push(msg("alarm"), [&](Result<uint64_t> r) { id = *r; });
  time.advance(10ms);
  settle();
  EXPECT_EQ(id, 1u);
}

TEST_F(QueueTest, DiskFullRefusesNewMessagesAndKeepsStoredOnes) {
  auto o = options();
  o.max_pages = 40;
  auto q = make(o);
  std::string alarm;
  q->on_alarm = [&](const std::string& a) { alarm = a; };
  uint64_t ok = 0;
  std::string err;
  for (int round = 0; round < 100 && err.empty(); ++round) {
    for (int i = 0; i < 20; ++i)
      q->push(msg("telemetry", 300), [&](Result<uint64_t> r) {
        if (r.ok()) ++ok;
        else err = r.error().message;
      });
    time.advance(10ms);
    settle();
  }
  EXPECT_NE(err.find("disk full"), std::string::npos) << err;
  EXPECT_EQ(alarm, "disk full");
  EXPECT_TRUE(q->disk_full());
  EXPECT_GT(ok, 0u);
  EXPECT_EQ(q->depth(), ok);
  size_t read = 0;
  q->read("telemetry", 0, 100000, [&](Result<std::vector<StoredMessage>> r) { read = r->size(); });
  settle();
  EXPECT_EQ(read, ok);
  // Deliveries free space: the store takes messages again.
  for (uint64_t id = 1; id <= 40; ++id) q->ack(id);
  time.advance(10ms);
  settle();
  bool accepted = false;
  q->push(msg("telemetry", 100), [&](Result<uint64_t> r) { accepted = r.ok(); });
  time.advance(10ms);
  settle();
  EXPECT_TRUE(accepted);
  EXPECT_FALSE(q->disk_full());
}

TEST_F(QueueTest, PushesWhileOpeningWaitForTheStore) {
  auto q = std::make_unique<DurableQueue>(time, worker, results, options());
  q->start();
  uint64_t id = 0;
  q->push(msg("alarm"), [&](Result<uint64_t> r) { id = *r; });
  settle();
  time.advance(10ms);
  settle();
  EXPECT_EQ(id, 1u);
}

TEST_F(QueueTest, PushesWhileOpeningAreCountedOnceAgainstMaxPendingBytes) {
  auto o = options();
  o.max_pending_bytes = 1000;
  auto q = std::make_unique<DurableQueue>(time, worker, results, o);
  q->start();
  q->push(msg("alarm", 600), nullptr);  // waits for the store
  settle();
  time.advance(10ms);
  settle();
  EXPECT_EQ(q->depth(), 1u);  // committed: nothing is pending any more
  bool accepted = false;
  q->push(msg("alarm", 600), [&](Result<uint64_t> r) { accepted = r.ok(); });
  time.advance(10ms);
  settle();
  EXPECT_TRUE(accepted);
}

}  // namespace
}  // namespace uplink
