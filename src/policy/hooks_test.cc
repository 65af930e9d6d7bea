#include "policy/hooks.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>

namespace uplink {
namespace {

using namespace std::chrono_literals;

TEST(HookEnvironment, LinkEvent) {
  HookEvent e{.event = "link", .link = "wan1", .from = "up", .to = "down", .reason = "probe_timeout", .policy = "", .active = {}};
  EXPECT_EQ(hook_environment(e),
            (std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "UPLINK_EVENT=link", "UPLINK_LINK=wan1", "UPLINK_FROM=up", "UPLINK_TO=down",
                                      "UPLINK_REASON=probe_timeout"}));
}

TEST(HookEnvironment, PolicyEvent) {
  HookEvent e{.event = "policy", .link = "", .from = "wan1", .to = "wan2,cell1", .reason = "", .policy = "default",
              .active = {"wan2", "cell1"}};
  auto env = hook_environment(e);
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                           "UPLINK_EVENT=policy", "UPLINK_POLICY=default", "UPLINK_FROM=wan1",
                                           "UPLINK_TO=wan2,cell1", "UPLINK_ACTIVE=wan2,cell1"}));
}

class HookRunnerTest : public ::testing::Test {
 protected:
  HookRunnerTest() {
    char tmpl[] = "/tmp/uplink-hooks-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~HookRunnerTest() override { std::filesystem::remove_all(dir); }
  void script(const std::string& name, const std::string& body, bool exec = true) {
    auto p = dir + "/" + name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    chmod(p.c_str(), exec ? 0755 : 0644);
  }
  // Runs the io_context until cond() or 5 s of real time.
  template <class F>
  bool run_until(F cond) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!cond() && std::chrono::steady_clock::now() < deadline) io.run_for(10ms);
    return cond();
  }
  std::string read(const std::string& name) {
    std::ifstream in(dir + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string dir;
  boost::asio::io_context io;
  AsioTimeSource time{io};
};

TEST_F(HookRunnerTest, RunsExecutablesWithTheEventAndDoesNotBlock) {
  script("10-record", "echo \"$UPLINK_EVENT $UPLINK_LINK $UPLINK_FROM->$UPLINK_TO $UPLINK_REASON\" > " + dir + "/out.txt; echo logged");
  script("20-not-executable", "touch " + dir + "/must-not-exist", false);
  ProcessHookRunner runner(io, time, dir, 5s);
  auto t0 = std::chrono::steady_clock::now();
  runner.run({.event = "link", .link = "wan1", .from = "up", .to = "down", .reason = "carrier_lost", .policy = "", .active = {}});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);  // run() only spawns
  ASSERT_TRUE(run_until([&] { return runner.running() == 0; }));
  EXPECT_EQ(read("out.txt"), "link wan1 up->down carrier_lost\n");
  EXPECT_FALSE(std::filesystem::exists(dir + "/must-not-exist"));
}

TEST_F(HookRunnerTest, KillsTheProcessGroupAfterTheTimeout) {
  // The hook starts a child that would outlive it; both must die.
  script("slow", "sleep 30 & echo $! > " + dir + "/child.pid; sleep 30");
  ProcessHookRunner runner(io, time, dir, 200ms);
  auto t0 = std::chrono::steady_clock::now();
  runner.run({.event = "policy", .link = "", .from = "", .to = "wan1", .reason = "", .policy = "default", .active = {"wan1"}});
  ASSERT_TRUE(run_until([&] { return runner.running() == 0; }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  int child = std::stoi(read("child.pid"));
  // The child got SIGKILL with its group; it may linger as a zombie of init for a moment.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream st("/proc/" + std::to_string(child) + "/stat");
    std::string s((std::istreambuf_iterator<char>(st)), {});
    gone = s.empty() || s.find(") Z") != std::string::npos;
    if (!gone) usleep(10000);
  }
  EXPECT_TRUE(gone) << "child " << child << " survived the timeout";
}

TEST_F(HookRunnerTest, AtMostNConcurrent) {
  for (int i = 0; i < 5; ++i) script("h" + std::to_string(i), "sleep 0.2");
  ProcessHookRunner runner(io, time, dir, 5s, 2);
  runner.run({.event = "link", .link = "wan1", .from = "up", .to = "down", .reason = "", .policy = "", .active = {}});
  EXPECT_EQ(runner.running(), 2u);
  EXPECT_EQ(runner.queued(), 3u);
  size_t max_seen = 0;
  ASSERT_TRUE(run_until([&] {
    max_seen = std::max(max_seen, runner.running());
    return runner.running() == 0 && runner.queued() == 0;
  }));
  EXPECT_EQ(max_seen, 2u);
}

TEST_F(HookRunnerTest, MissingDirectoryIsNotAnError) {
  ProcessHookRunner runner(io, time, dir + "/nope", 1s);
  runner.run({.event = "link", .link = "x", .from = "", .to = "", .reason = "", .policy = "", .active = {}});
  EXPECT_EQ(runner.running(), 0u);
}

}  // namespace
}  // namespace uplink
