#include "policy/hooks_module.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "core/testing/module_harness.h"
#include "net/testing/sample_config.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

// Every run, with the directory of the runner that ran it.
struct Runs {
  struct Run {
    std::string dir;
    HookEvent event;
  };
  std::vector<Run> runs;
  Strings made;  // "dir timeout_ms" per runner made
  int destroyed = 0;
};

class FakeRunner final : public HookRunner {
 public:
  FakeRunner(Runs& runs, std::string dir) : runs_(runs), dir_(std::move(dir)) {}
  ~FakeRunner() override { ++runs_.destroyed; }
  void run(const HookEvent& e) override { runs_.runs.push_back({dir_, e}); }

 private:
  Runs& runs_;
  std::string dir_;
};

class HooksModuleTest : public ::testing::Test {
 protected:
  HooksModuleTest() { config.daemon.hooks_dir = "/etc/hooks-a"; }
  Result<void> apply(const Config& next) { return h.apply(hooks, next); }
  // "dir event link from>to (reason)" per run.
  Strings lines() const {
    Strings out;
    for (const auto& r : runs.runs) {
      const HookEvent& e = r.event;
      out.push_back(r.dir + " " + e.event + " " + (e.event == "policy" ? e.policy + " " : "") + e.link + " " + e.from +
                    ">" + e.to + " (" + e.reason + ")");
    }
    return out;
  }

  FakeTimeSource time;
  testing::ModuleHarness h{time};
  Runs runs;
  bool fail = false;
  HooksModule hooks{h.ctx, [this](const std::string& dir, Duration timeout) -> std::unique_ptr<HookRunner> {
                      if (fail) throw std::runtime_error("no such directory");
                      runs.made.push_back(dir + " " + std::to_string(timeout / 1ms));
                      return std::make_unique<FakeRunner>(runs, dir);
                    }};
  Config config = testing::sample_config();
};

TEST_F(HooksModuleTest, LinkAndPolicyEventsRunTheHooks) {
  h.bus.publish(LinkEvent{time.wall_now(), "wan1", LinkState::unknown, LinkState::up, "probes_ok"});
  EXPECT_TRUE(runs.runs.empty()) << "no runner before the first apply";
  ASSERT_TRUE(apply(config).ok());
  EXPECT_EQ(hooks.dir(), "/etc/hooks-a");
  EXPECT_EQ(runs.made, Strings{"/etc/hooks-a 10000"});

  h.bus.publish(LinkEvent{time.wall_now(), "wan1", LinkState::up, LinkState::down, "probe_timeout"});
  h.bus.publish(PolicyEvent{time.wall_now(), "default", {"wan1", "wan2"}, {"wan2"}, "wan1 down", "wan1", "down"});
  h.bus.publish(PolicyEvent{time.wall_now(), "cellular", {"cell1"}, {}, "config; last_resort", "", "config"});
  h.bus.publish(PolicyActive{"default", {"wan2"}});  // not a change: no hook
  EXPECT_EQ(lines(), (Strings{"/etc/hooks-a link wan1 up>down (probe_timeout)",
                              "/etc/hooks-a policy default wan1 wan1,wan2>wan2 (wan1 down)",
                              "/etc/hooks-a policy cellular  cell1> (config; last_resort)"}));
  ASSERT_EQ(runs.runs.size(), 3u);
  EXPECT_EQ(runs.runs[1].event.active, (Strings{"wan2"}));
  EXPECT_TRUE(runs.runs[2].event.active.empty()) << "last resort: an empty UPLINK_ACTIVE";
}

// The real path: the link table's one event per transition is one hook run.
TEST_F(HooksModuleTest, OneRunPerLinkTableTransition) {
  ASSERT_TRUE(apply(config).ok());
  h.links.report_verdict("wan1", LinkState::up, "probes_ok");
  h.links.report_verdict("wan1", LinkState::up, "probes_ok");  // no transition
  h.links.report_quality("wan1", LinkQuality{20.0, 1.0, 0.0});
  h.links.set_hard_signal("wan1", "carrier", "carrier_lost");
  EXPECT_EQ(lines(), (Strings{"/etc/hooks-a link wan1 unknown>up (probes_ok)",
                              "/etc/hooks-a link wan1 up>down (carrier_lost)"}));
}

TEST_F(HooksModuleTest, ChangingTheDirectoryOrTimeoutSwapsTheRunner) {
  ASSERT_TRUE(apply(config).ok());
  Config same = config;
  same.links["wan1"].metered = true;  // a change elsewhere keeps the runner
  ASSERT_TRUE(apply(same).ok());
  EXPECT_EQ(runs.made.size(), 1u);

  Config moved = same;
  moved.daemon.hooks_dir = "/etc/hooks-b";
  ASSERT_TRUE(apply(moved).ok());
  EXPECT_EQ(hooks.dir(), "/etc/hooks-b");
  EXPECT_EQ(runs.destroyed, 1) << "the old runner (and what it still ran) is gone";
  h.bus.publish(LinkEvent{time.wall_now(), "wan2", LinkState::unknown, LinkState::up, "probes_ok"});
  EXPECT_EQ(lines(), Strings{"/etc/hooks-b link wan2 unknown>up (probes_ok)"});

  Config slower = moved;
  slower.daemon.hook_timeout = 30s;
  ASSERT_TRUE(apply(slower).ok());
  EXPECT_EQ(runs.made, (Strings{"/etc/hooks-a 10000", "/etc/hooks-b 10000", "/etc/hooks-b 30000"}));
  EXPECT_EQ(runs.destroyed, 2);
}

TEST_F(HooksModuleTest, ARunnerThatCannotBeMadeRefusesTheChangeAndKeepsTheOld) {
  ASSERT_TRUE(apply(config).ok());
  Config moved = config;
  moved.daemon.hooks_dir = "/nonexistent";
  fail = true;
  auto r = apply(moved);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("no such directory"), std::string::npos) << r.error().message;
  EXPECT_EQ(hooks.dir(), "/etc/hooks-a");
  EXPECT_EQ(runs.destroyed, 0);
  h.bus.publish(LinkEvent{time.wall_now(), "wan1", LinkState::unknown, LinkState::up, "probes_ok"});
  EXPECT_EQ(lines(), Strings{"/etc/hooks-a link wan1 unknown>up (probes_ok)"});
}

TEST_F(HooksModuleTest, StopEndsTheRunnerAndLaterEventsRunNothing) {
  ASSERT_TRUE(apply(config).ok());
  hooks.stop();
  EXPECT_EQ(runs.destroyed, 1);
  h.bus.publish(LinkEvent{time.wall_now(), "wan1", LinkState::unknown, LinkState::up, "probes_ok"});
  EXPECT_TRUE(runs.runs.empty());
}

TEST(HooksModuleLifetime, ADestroyedModuleNoLongerListens) {
  FakeTimeSource time;
  testing::ModuleHarness h{time};
  Runs runs;
  {
    HooksModule hooks{h.ctx, [&](const std::string& dir, Duration) -> std::unique_ptr<HookRunner> {
                        return std::make_unique<FakeRunner>(runs, dir);
                      }};
    ASSERT_TRUE(h.apply(hooks, testing::sample_config()).ok());
  }
  h.bus.publish(LinkEvent{time.wall_now(), "wan1", LinkState::unknown, LinkState::up, "probes_ok"});
  EXPECT_TRUE(runs.runs.empty());
  EXPECT_EQ(runs.destroyed, 1);
}

}  // namespace
}  // namespace uplink
