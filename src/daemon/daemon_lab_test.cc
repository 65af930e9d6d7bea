// uplinkd end to end in the lab (config/lab.toml): real probers, real
// routing, LAN traffic, a fault, recovery, and a SIGTERM that leaves the
// router's kernel exactly as it was.
//
// It checks order and outcome; its time bounds are derived from config/lab.toml
// (interval 1 s, fast_interval 100 ms, down_after 3, up_after 5) and the link's
// current auto timeout with a generous margin, so they hold on a busy router.
// Detection figures are the benchmarks' (netns-tests/scenarios/monitoring).
#include <chrono>
#include <string>
#include <vector>

#include "harness/lab_test.h"

namespace uplink::lab {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

class DaemonLab : public LabTest {
 protected:
  std::string kernel_snapshot() {
    auto r = exec("router", {"sh", "-c",
                             "ip rule; ip -6 rule; ip route show table all; ip -6 route show table all; "
                             "nft list ruleset | sed -E 's/ expires [0-9dhms]+//'"});  // set timers tick
    EXPECT_TRUE(r.ok()) << r.err;
    return r.out;
  }
  Json default_active() {
    auto s = status();
    if (!s.is_object()) return nullptr;
    for (const auto& p : s["policies"])
      if (p.value("name", "") == "default") return p["active"];
    return nullptr;
  }
  bool all_up() {
    auto s = status();
    if (!s.is_object() || s["links"].size() != 4) return false;
    for (const auto& l : s["links"])
      if (l.value("state", "") != "up") return false;
    return true;
  }
  // Three pings from the LAN host to a core address: only through a working line.
  bool lan_reaches_core() {
    return exec("lan", {"ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", "203.0.113.1"}, 10s).ok();
  }
};

TEST_F(DaemonLab, FailoverRecoveryAndCleanShutdown) {
  if (!daemon_available()) GTEST_SKIP() << "uplinkd not built";
  const std::string before = kernel_snapshot();
  UPLINK_START_DAEMON(lab_config());
  ASSERT_TRUE(eventually([&] { return all_up(); }, 15s, "all four links up"));
  EXPECT_EQ(default_active(), Json({"wan1", "wan2"}));
  auto s = status();
  EXPECT_TRUE(s["links"][0]["latency_ms"].is_number()) << s.dump();
  EXPECT_EQ(s["probes"]["wan1"]["targets"].size(), 3u) << s.dump();
  EXPECT_TRUE(lan_reaches_core());

  // A second uplinkd on the same socket refuses to start and leaves the first one's kernel state alone.
  const std::string programmed = kernel_snapshot();
  auto second = exec("router", {uplinkd_path(), "--config", config_path()}, 10s);
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_EQ(kernel_snapshot(), programmed);
  EXPECT_TRUE(all_up());

  // A firewall reload (one transaction: flush the whole ruleset, load its own
  // tables, here the lab's NAT): uplinkd's table is back at once (nftables
  // commit events), not at the 30 s safety-net check.
  auto our_table = [&] { return exec("router", {"nft", "-t", "list", "table", "inet", "uplinkd"}); };
  const std::string table = our_table().out;
  ASSERT_FALSE(table.empty());
  ASSERT_TRUE(exec("router", {"sh", "-c", "lab=$(nft list table ip lab) && printf 'flush ruleset\\n%s\\n' \"$lab\" | nft -f -"})
                  .ok());
  auto reloaded = std::chrono::steady_clock::now();
  // At once (nftables commit events), i.e. long before the 30 s periodic check;
  // 5 s leaves room for a busy machine (idle: a few ms).
  EXPECT_TRUE(eventually([&] { return our_table().out == table; }, 5s, "table inet uplinkd restored", 10ms));
  std::printf("firewall reload -> table inet uplinkd back: %lld ms (polled every 10 ms)\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - reloaded)
                                         .count()));
  EXPECT_TRUE(lan_reaches_core());

  // wan1's ISP loses the Internet (carrier up): probes take it down, tier 1 keeps wan2.
  // config/lab.toml: next round within 1.1 s, then 3 failed rounds.
  const auto cut_bound = probe_rounds_bound(1s, 100ms, 3, probe_timeout("wan1"));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(fault("eth1", {"upstream-down"}));
  const auto fault_cmd = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_TRUE(eventually([&] { return link_state("wan1") == "down"; }, cut_bound, "wan1 down", 20ms))
      << "bound " << cut_bound.count() << " ms after the fault command (" << fault_cmd.count() << " ms)";
  auto detect = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::printf("upstream-down -> wan1 down: %lld ms\n", static_cast<long long>(detect.count()));
  EXPECT_EQ(default_active(), Json({"wan2"}));
  for (const char* l : {"wan2", "cell1", "cell2"}) EXPECT_EQ(link_state(l), "up") << l;
  EXPECT_TRUE(lan_reaches_core()) << "LAN traffic must move to wan2";
  auto link = ctl({"link", "show", "wan1", "--json"});
  ASSERT_TRUE(link.ok()) << link.err;
  auto detail = Json::parse(link.out, nullptr, false);
  EXPECT_GT(detail["probes"]["targets"][0]["lost"].get<int>(), 0) << link.out;

  // Recovery: up_after good rounds, then wan1 is back in tier 1.
  const auto up_bound = probe_rounds_bound(1s, 100ms, 5, probe_timeout("wan1"));
  ASSERT_TRUE(fault("eth1", {"clear"}));
  EXPECT_TRUE(eventually([&] { return link_state("wan1") == "up"; }, up_bound, "wan1 back up"));
  EXPECT_EQ(default_active(), Json({"wan1", "wan2"}));

  // Cable pulled: the hard signal takes wan1 down without waiting for probes.
  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(fault("eth1", {"carrier-down"}));
  // The reason says the hard signal did it (probes would say probe_timeout);
  // the bound only keeps a broken signal from passing unnoticed.
  EXPECT_TRUE(eventually([&] { return link_state("wan1") == "down"; }, 5s, "wan1 down on carrier loss", 10ms));
  detect = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::printf("carrier-down -> wan1 down: %lld ms\n", static_cast<long long>(detect.count()));
  EXPECT_EQ(status()["links"][0]["reason"], "carrier_lost");
  ASSERT_TRUE(fault("eth1", {"carrier-up"}));
  // The carrier's return starts probing; up is earned with up_after rounds (the
  // flap penalty of the earlier fall may double them).
  EXPECT_TRUE(eventually([&] { return link_state("wan1") == "up"; }, probe_rounds_bound(1s, 100ms, 10, probe_timeout("wan1")),
                         "wan1 up after carrier-up"));

  // Administrative disable moves traffic at once.
  auto r = ctl({"link", "disable", "wan1"});
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_EQ(link_state("wan1"), "disabled");
  EXPECT_EQ(default_active(), Json({"wan2"}));

  // SIGTERM: exit 0 (checked by stop_daemon) and nothing left behind.
  stop_daemon();
  EXPECT_EQ(kernel_snapshot(), before);
}

}  // namespace
}  // namespace uplink::lab
