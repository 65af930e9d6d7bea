#include "net/conntrack_flusher.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "net/flush_queue.h"
#include "net/testing/fake_conntrack.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

// --- FlushQueue: the coalescing, without threads

std::vector<std::pair<uint32_t, uint32_t>> drain(FlushQueue& q, std::vector<size_t>* waiters = nullptr) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  while (auto r = q.pop()) {
    out.emplace_back(r->mark, r->mask);
    if (waiters) waiters->push_back(r->done.size());
  }
  return out;
}

TEST(FlushQueue, RepeatedRequestsForTheSameMarkAreOne) {
  FlushQueue q;
  EXPECT_TRUE(q.push(0x100, 0x7f00, {}));
  EXPECT_FALSE(q.push(0x100, 0x7f00, {}));
  EXPECT_FALSE(q.push(0x8100, 0x7f00, {}));  // same entries: the sticky bit is outside the mask
  EXPECT_TRUE(q.push(0x200, 0x7f00, {}));
  std::vector<size_t> waiters;
  EXPECT_EQ(drain(q, &waiters), (std::vector<std::pair<uint32_t, uint32_t>>{{0x100, 0x7f00}, {0x200, 0x7f00}}));
  EXPECT_EQ(waiters, (std::vector<size_t>{3, 1}));
}

TEST(FlushQueue, AllFlowsOfALinkSwallowItsNonStickyFlows) {
  FlushQueue q;
  EXPECT_TRUE(q.push(0x200, 0x7f00, {}));
  EXPECT_TRUE(q.push(0x100, 0xff00, {}));   // wan1 left all policies: non-sticky flows
  EXPECT_TRUE(q.push(0x300, 0x7f00, {}));
  EXPECT_TRUE(q.push(0x100, 0x7f00, {}));   // then went down: all of them, in the first one's place
  EXPECT_FALSE(q.push(0x100, 0xff00, {}));  // already covered
  std::vector<size_t> waiters;
  EXPECT_EQ(drain(q, &waiters),
            (std::vector<std::pair<uint32_t, uint32_t>>{{0x200, 0x7f00}, {0x100, 0x7f00}, {0x300, 0x7f00}}));
  EXPECT_EQ(waiters, (std::vector<size_t>{1, 3, 1}));
}

TEST(FlushQueue, OnlyCoveredRequestsAreMerged) {
  FlushQueue q;
  EXPECT_TRUE(q.push(0x100, 0xff00, {}));   // non-sticky flows of wan1
  EXPECT_TRUE(q.push(0x8100, 0xff00, {}));  // sticky flows of wan1: neither covers the other
  EXPECT_TRUE(q.push(0x200, 0x7f00, {}));   // another link
  EXPECT_FALSE(q.push(0x101, 0xffff, {}));  // a subset of the first one's entries
  EXPECT_EQ(drain(q), (std::vector<std::pair<uint32_t, uint32_t>>{{0x100, 0xff00}, {0x8100, 0xff00}, {0x200, 0x7f00}}));
}

TEST(FlushQueue, CallbacksOfMergedRequestsAllWaitForTheSurvivor) {
  FlushQueue q;
  std::string calls;
  q.push(0x100, 0xff00, [&](Result<size_t> n) { calls += "a" + std::to_string(*n); });
  q.push(0x100, 0x7f00, [&](Result<size_t> n) { calls += "b" + std::to_string(*n); });
  q.push(0x100, 0xff00, [&](Result<size_t> n) { calls += "c" + std::to_string(*n); });
  auto r = q.pop();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mask, 0x7f00u);
  for (auto& d : r->done) d(size_t(7));
  EXPECT_EQ(calls, "a7b7c7");
  EXPECT_TRUE(q.empty());
}

// --- AsyncConntrackFlusher: a real worker thread, results on the io_context

// FakeConntrack whose flushes block until released: the test decides what is
// queued while the worker is busy.
class GatedConntrack final : public Conntrack {
 public:
  explicit GatedConntrack(FakeConntrack& fake) : fake_(fake) {}
  Result<size_t> flush_mark(uint32_t mark, uint32_t mask) override {
    std::unique_lock lock(m_);
    ++entered_;
    cv_.notify_all();
    if (!cv_.wait_for(lock, 5s, [&] { return open_; })) return make_error("gate never opened");
    return fake_.flush_mark(mark, mask);
  }
  bool wait_entered(int n) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, 5s, [&] { return entered_ >= n; });
  }
  void open() {
    std::lock_guard lock(m_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  FakeConntrack& fake_;
  std::mutex m_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};

// Runs the io_context until `done()` or 5 s.
template <class F>
bool run_until(boost::asio::io_context& io, F done) {
  io.restart();  // a previous run may have ended it (out of work)
  auto work = boost::asio::make_work_guard(io);  // wait for posts instead of returning at once
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
  return done();
}

TEST(AsyncConntrackFlusher, RoutingNeverWaitsAndRepeatsAreCoalesced) {
  boost::asio::io_context io;
  FakeConntrack fake;
  fake.entries = {0x100, 0x8100, 0x100, 0x200, 0x300};
  auto gated = std::make_unique<GatedConntrack>(fake);
  auto* gate = gated.get();
  AsyncConntrackFlusher flusher(std::move(gated), io.get_executor());
  const auto io_thread = std::this_thread::get_id();
  std::vector<std::string> results;
  auto record = [&](const char* who) {
    return [&results, &io_thread, who](Result<size_t> n) {
      EXPECT_EQ(std::this_thread::get_id(), io_thread);  // posted back, never on the worker
      results.push_back(std::string(who) + "=" + (n ? std::to_string(*n) : n.error().message));
    };
  };
  flusher.flush_mark_async(0x200, 0x7f00, record("wan2"));  // starts at once and blocks in the gate
  ASSERT_TRUE(gate->wait_entered(1));
  flusher.flush_mark_async(0x100, 0xff00, record("wan1-nonsticky"));
  flusher.flush_mark_async(0x100, 0x7f00, record("wan1-all"));
  flusher.flush_mark_async(0x100, 0x7f00, record("wan1-again"));
  flusher.flush_mark_async(0x200, 0x7f00, record("wan2-again"));  // wan2's running flush is not pending: queued
  EXPECT_EQ(flusher.pending(), 2u);
  EXPECT_TRUE(results.empty());  // nothing ran inline
  gate->open();
  ASSERT_TRUE(run_until(io, [&] { return results.size() == 5; }));
  EXPECT_EQ(fake.flushes, (std::vector<std::pair<uint32_t, uint32_t>>{{0x200, 0x7f00}, {0x100, 0x7f00}, {0x200, 0x7f00}}));
  EXPECT_EQ(results, (std::vector<std::string>{"wan2=1", "wan1-nonsticky=3", "wan1-all=3", "wan1-again=3",
                                                "wan2-again=0"}));
  EXPECT_EQ(fake.entries, std::vector<uint32_t>{0x300});
  flusher.stop();
}

TEST(AsyncConntrackFlusher, StopDropsWhatHasNotStartedAndJoins) {
  boost::asio::io_context io;
  FakeConntrack fake;
  fake.entries = {0x100, 0x200};
  auto gated = std::make_unique<GatedConntrack>(fake);
  auto* gate = gated.get();
  AsyncConntrackFlusher flusher(std::move(gated), io.get_executor());
  std::vector<std::string> results;
  auto record = [&](const char* who) {
    return [&results, who](Result<size_t> n) { results.push_back(std::string(who) + (n ? " ok" : ": " + n.error().message)); };
  };
  flusher.flush_mark_async(0x100, 0x7f00, record("running"));
  ASSERT_TRUE(gate->wait_entered(1));
  flusher.flush_mark_async(0x200, 0x7f00, record("queued"));
  std::thread stopper([&] { flusher.stop(); });  // joins: waits for the running flush
  ASSERT_TRUE(run_until(io, [&] { return results.size() == 1; }));  // the queued one is dropped first
  EXPECT_EQ(results[0],
            "queued: conntrack flush of mark 0x200/0x7f00 not started: uplinkd is stopping (the flows time out by "
            "themselves)");
  gate->open();
  stopper.join();
  ASSERT_TRUE(run_until(io, [&] { return results.size() == 2; }));
  EXPECT_EQ(results[1], "running ok");
  EXPECT_EQ(fake.flushes, (std::vector<std::pair<uint32_t, uint32_t>>{{0x100, 0x7f00}}));
  // After stop: refused at once, through the executor.
  flusher.flush_mark_async(0x200, 0x7f00, record("late"));
  ASSERT_TRUE(run_until(io, [&] { return results.size() == 3; }));
  EXPECT_EQ(results[2].rfind("late: conntrack flush of mark 0x200/0x7f00 not started", 0), 0u) << results[2];
  flusher.stop();  // idempotent
}

TEST(AsyncConntrackFlusher, SynchronousFlushStillWorks) {
  boost::asio::io_context io;
  auto fake = std::make_unique<FakeConntrack>();
  fake->entries = {0x100, 0x8100, 0x200};
  AsyncConntrackFlusher flusher(std::move(fake), io.get_executor());
  auto n = flusher.flush_mark(0x100, 0xff00);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
}

}  // namespace
}  // namespace uplink
