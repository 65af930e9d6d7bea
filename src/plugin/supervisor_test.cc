#include "plugin/supervisor.h"

#include <gtest/gtest.h>

#include <vector>

namespace uplink::plugin {
namespace {

using K = SupervisorEvent::Kind;

struct FakeActions : SupervisorActions {
  int launches = 0, kills = 0, shutdowns = 0;
  std::vector<uint64_t> pings;
  bool fail_launch = false;
  Result<void> launch() override {
    ++launches;
    if (fail_launch) return make_error("no such file");
    return {};
  }
  void send_ping(uint64_t seq) override { pings.push_back(seq); }
  void send_shutdown() override { ++shutdowns; }
  void kill_process() override { ++kills; }
};

struct Fixture : ::testing::Test {
  FakeTimeSource time;
  FakeActions actions;
  RestartPolicy policy = [] {
    RestartPolicy p;
    p.backoff_initial = 1s;
    p.backoff_max = 8s;
    p.stable_after = 30s;
    p.alarm_after = 3;
    p.heartbeat_timeout = 4s;
    p.ping_interval = 1s;
    return p;
  }();
  std::vector<SupervisorEvent> events;
  Supervisor sup{time, policy, actions, [this](const SupervisorEvent& e) { events.push_back(e); }};

  std::vector<K> kinds() const {
    std::vector<K> k;
    for (auto& e : events) k.push_back(e.kind);
    return k;
  }
  const SupervisorEvent* last(K kind) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->kind == kind) return &*it;
    return nullptr;
  }
  // Crash the running process and return the delay the machine chose.
  Duration crash() {
    sup.on_exit(ExitCause::crashed, "signal 11");
    return last(K::restarting)->backoff;
  }
};

TEST_F(Fixture, StartsPingsAndStaysUpWhileAnswered) {
  sup.start();
  EXPECT_EQ(sup.state(), State::starting);
  EXPECT_EQ(actions.launches, 1);
  sup.on_ready();
  EXPECT_EQ(sup.state(), State::running);
  for (int i = 0; i < 20; ++i) {
    time.advance(1s);
    ASSERT_FALSE(actions.pings.empty());
    sup.on_pong(actions.pings.back());
  }
  EXPECT_EQ(sup.state(), State::running);
  EXPECT_EQ(actions.pings.size(), 20u);
  EXPECT_EQ(actions.kills, 0);
  EXPECT_EQ(kinds(), (std::vector<K>{K::started, K::ready}));
}

TEST_F(Fixture, FirstCrashRestartsAtOnceThenBackoffDoublesToTheCapAndNeverGivesUp) {
  sup.start();
  sup.on_ready();
  EXPECT_EQ(crash(), 0s);
  EXPECT_EQ(sup.state(), State::backoff);
  time.run_due();
  EXPECT_EQ(actions.launches, 2);
  EXPECT_EQ(sup.restarts(), 1u);

  std::vector<Duration> delays;
  for (int i = 0; i < 8; ++i) {
    sup.on_ready();
    Duration d = crash();
    delays.push_back(d);
    int before = actions.launches;
    if (d > 0s) {
      time.advance(d - 1ms);
      EXPECT_EQ(actions.launches, before) << "restarted before its backoff";
    }
    time.advance(1ms);
    EXPECT_EQ(actions.launches, before + 1);
  }
  EXPECT_EQ(delays, (std::vector<Duration>{1s, 2s, 4s, 8s, 8s, 8s, 8s, 8s}));
  EXPECT_EQ(sup.restarts(), 9u);
  EXPECT_EQ(sup.state(), State::starting);
}

TEST_F(Fixture, AlarmAfterRepeatedFailuresClearedByAStableRun) {
  sup.start();
  for (int i = 0; i < 3; ++i) {
    sup.on_ready();
    time.advance(crash());
  }
  ASSERT_TRUE(sup.alarm());
  ASSERT_NE(last(K::alarm), nullptr);
  EXPECT_EQ(last(K::alarm)->failures, 3);
  // One alarm per streak.
  sup.on_ready();
  time.advance(crash());
  EXPECT_EQ(std::count_if(events.begin(), events.end(), [](auto& e) { return e.kind == K::alarm; }), 1);

  sup.on_ready();
  for (int i = 0; i < 31; ++i) {
    time.advance(1s);
    ASSERT_FALSE(actions.pings.empty());
    sup.on_pong(actions.pings.back());
  }
  EXPECT_FALSE(sup.alarm());
  EXPECT_EQ(sup.failures(), 0);
  EXPECT_NE(last(K::recovered), nullptr);
  // The backoff starts over: the next crash restarts at once.
  EXPECT_EQ(crash(), 0s);
}

TEST_F(Fixture, AStableRunResetsTheBackoff) {
  sup.start();
  sup.on_ready();
  crash();
  time.run_due();
  sup.on_ready();
  EXPECT_EQ(crash(), 1s);
  time.advance(1s);
  sup.on_ready();
  for (int i = 0; i < 30; ++i) {
    time.advance(1s);
    sup.on_pong(actions.pings.back());
  }
  EXPECT_EQ(crash(), 0s);
}

TEST_F(Fixture, HangIsDetectedWithinTheHeartbeatTimeoutKilledAndRestarted) {
  sup.start();
  sup.on_ready();
  time.advance(1s);
  sup.on_pong(actions.pings.back());  // last answer at t=1s
  TimePoint last_pong = time.now();
  // Pings keep going out, nobody answers.
  time.advance(4s - 1ms);
  EXPECT_EQ(actions.kills, 0);
  time.advance(1ms);
  EXPECT_EQ(actions.kills, 1);
  EXPECT_EQ(time.now() - last_pong, 4s);
  EXPECT_EQ(sup.state(), State::killing);
  ASSERT_NE(last(K::hung), nullptr);
  // The runner reports SIGKILL as a crash; the machine knows it was a hang.
  sup.on_exit(ExitCause::crashed, "signal 9");
  EXPECT_EQ(last(K::exited)->cause, ExitCause::hung);
  time.run_due();
  EXPECT_EQ(actions.launches, 2);
}

TEST_F(Fixture, StaleOrFuturePongsDoNotFeedTheWatchdog) {
  sup.start();
  sup.on_ready();
  time.advance(1s);
  sup.on_pong(999);  // never sent
  sup.on_pong(0);
  time.advance(3s);
  EXPECT_EQ(actions.kills, 1);
}

TEST_F(Fixture, NotReadyInTimeIsAHangAtStart) {
  sup.start();
  time.advance(4s);
  EXPECT_EQ(actions.kills, 1);
  sup.on_exit(ExitCause::crashed, "signal 9");
  EXPECT_EQ(last(K::exited)->cause, ExitCause::start_timeout);
}

TEST_F(Fixture, AbiErrorsAreRetriedWithBackoffForever) {
  sup.start();
  for (int i = 0; i < 20; ++i) {
    sup.on_exit(ExitCause::abi, "built for ABI version 99");
    time.advance(policy.backoff_max);
  }
  EXPECT_EQ(actions.launches, 21);
  EXPECT_TRUE(sup.alarm());
  EXPECT_EQ(last(K::exited)->detail, "built for ABI version 99");
}

TEST_F(Fixture, SpawnFailureIsAFailureWithBackoff) {
  actions.fail_launch = true;
  sup.start();
  EXPECT_EQ(sup.state(), State::backoff);
  EXPECT_EQ(last(K::exited)->cause, ExitCause::spawn);
  time.run_due();
  EXPECT_EQ(actions.launches, 2);
  actions.fail_launch = false;
  time.advance(1s);
  EXPECT_EQ(actions.launches, 3);
  EXPECT_EQ(sup.state(), State::starting);
}

TEST_F(Fixture, ManualRestartIsNotAFailure) {
  sup.start();
  sup.on_ready();
  sup.restart();
  EXPECT_EQ(actions.kills, 1);
  sup.on_exit(ExitCause::crashed, "signal 9");
  EXPECT_EQ(last(K::exited)->cause, ExitCause::restart);
  EXPECT_EQ(sup.failures(), 0);
  time.run_due();
  EXPECT_EQ(actions.launches, 2);
}

TEST_F(Fixture, ManualRestartDuringBackoffStartsNow) {
  sup.start();
  sup.on_ready();
  crash();
  time.run_due();
  sup.on_ready();
  EXPECT_EQ(crash(), 1s);
  sup.restart();
  EXPECT_EQ(actions.launches, 3);
  time.advance(2s);
  EXPECT_EQ(actions.launches, 3) << "the cancelled backoff must not start a second one";
}

TEST_F(Fixture, StopIsGracefulThenForced) {
  sup.start();
  sup.on_ready();
  sup.stop();
  EXPECT_EQ(actions.shutdowns, 1);
  EXPECT_EQ(sup.state(), State::stopping);
  time.advance(policy.stop_grace);
  EXPECT_EQ(actions.kills, 1);
  sup.on_exit(ExitCause::crashed, "signal 9");
  EXPECT_EQ(sup.state(), State::stopped);
  EXPECT_NE(last(K::stopped), nullptr);
  time.advance(1h);
  EXPECT_EQ(actions.launches, 1);
}

TEST_F(Fixture, StopDuringBackoffCancelsTheRestart) {
  sup.start();
  sup.on_ready();
  crash();
  sup.stop();
  time.advance(1h);
  EXPECT_EQ(sup.state(), State::stopped);
  EXPECT_EQ(actions.launches, 1);
}

}  // namespace
}  // namespace uplink::plugin
