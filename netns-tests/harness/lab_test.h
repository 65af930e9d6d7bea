#pragma once
// LabTest: the GoogleTest fixture for scenario tests.
//
//   class Failover : public uplink::lab::LabTest {};
//   TEST_F(Failover, Wan1UpstreamLoss) {
//     UPLINK_START_DAEMON(lab_config());            // skips while uplinkd is not built
//     ASSERT_TRUE(eventually([&] { return link_state("wan1") == "up"; }, 10s, "wan1 up"));
//     fault("eth1", {"upstream-down"});
//     EXPECT_TRUE(eventually([&] { return link_state("wan1") == "down"; }, 5s, "wan1 down"));
//   }
//
// One lab per test suite (up in SetUpTestSuite, ~1 s); after every test the
// daemon is stopped, every line cleared and pinned routes removed, so tests
// of a suite start from the same clean lab. Teardown also runs on failure,
// on SIGINT/SIGTERM and at exit.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness/lab.h"

namespace uplink::lab {

// Sets [daemon] socket/state_dir/hooks_dir of a TOML text (adds them, and the
// section, when missing); everything else is kept byte for byte.
std::string rewrite_daemon_paths(const std::string& toml, const std::string& socket, const std::string& state_dir,
                                 const std::string& hooks_dir);

// Timing bounds that hold on a busy machine (an edge router is never idle): a
// bound is derived from what the test configured, with a generous margin, and
// leaves the precise figures to the benchmarks (netns-tests/scenarios/*/README.md).
//
// Probe-based detection of a cut (src/probe/README.md "Detection time"): the
// next round starts within interval * 1.1, then `rounds` rounds of at most
// max(fast_interval, 3 * timeout) each (two retries inside a round); times 1.5
// plus 1 s for a loaded machine. `timeout` is the link's current auto timeout
// (LabTest::probe_timeout), so a timeout that load has stretched is allowed for.
std::chrono::milliseconds probe_rounds_bound(std::chrono::milliseconds interval,
                                             std::chrono::milliseconds fast_interval, int rounds,
                                             std::chrono::milliseconds timeout);

class LabTest : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

 protected:
  void SetUp() override;
  void TearDown() override;

  static Lab& lab() { return *lab_; }

  // Faults and commands; a failing fault is a test failure (ADD_FAILURE) and returns false.
  bool fault(const std::string& line, const std::vector<std::string>& args);
  ExecResult exec(const std::string& node, const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Pins a line for traffic from its address (see Lab::pin_line); undone in TearDown.
  bool pin_line(const std::string& line);

  // A per-test directory (removed in TearDown).
  const std::filesystem::path& temp_dir() const { return temp_dir_; }

  // config/lab.toml of the checkout.
  static std::string lab_config();
  static bool daemon_available();
  // Writes the config (daemon paths rewritten into temp_dir()), starts uplinkd in
  // router, waits until `uplinkctl status` answers. False (with a failure) if not.
  bool start_daemon(const std::string& config_toml, std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));
  void stop_daemon();
  std::string socket_path() const { return (temp_dir_ / "uplinkd.sock").string(); }
  std::string config_path() const { return (temp_dir_ / "uplinkd.toml").string(); }

  // uplinkctl --socket <ours> ARGS...
  ExecResult ctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Parsed `uplinkctl status --json`; null json when the call fails.
  nlohmann::json status();
  // State of one link ("up", "down", ...), "" when unknown or unreachable.
  std::string link_state(const std::string& link);

  // The longest auto probe timeout (`timeout_ms`) over the targets of `link` in
  // `uplinkctl link show LINK --json`, or `fallback` when there is none.
  std::chrono::milliseconds probe_timeout(const std::string& link,
                                          std::chrono::milliseconds fallback = std::chrono::seconds(1));

  // Polls pred every `every` until true or `timeout`; on timeout ADD_FAILURE
  // naming `what` and the time waited, and returns false.
  bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout, const std::string& what,
                  std::chrono::milliseconds every = std::chrono::milliseconds(50));

 private:
  static std::unique_ptr<Lab> lab_;
  static std::string setup_error_;
  std::filesystem::path temp_dir_;
  std::optional<Child> daemon_;
  std::vector<std::string> pinned_;
};

}  // namespace uplink::lab

// Starts uplinkd with `config`, or skips the test while the daemon is not built.
#define UPLINK_START_DAEMON(config)                                                  \
  do {                                                                               \
    if (!::uplink::lab::LabTest::daemon_available())                                 \
      GTEST_SKIP() << "uplinkd not built (" << ::uplink::lab::uplinkd_path() << ")"; \
    ASSERT_TRUE(start_daemon(config));                                               \
  } while (0)
