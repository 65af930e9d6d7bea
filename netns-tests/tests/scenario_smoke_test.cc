// The fixture with the daemon: uplinkd in router on config/lab.toml. Skips
// until uplinkd is built; then checks the contract the lab relies on.
#include <set>

#include "probe_util.h"

namespace uplink::lab {
namespace {

using namespace std::chrono_literals;

class Scenario : public LabTest {};

TEST_F(Scenario, DaemonSeesAllLabLinks) {
  UPLINK_START_DAEMON(lab_config());
  auto s = status();
  ASSERT_TRUE(s.is_object()) << "uplinkctl status --json did not return JSON";
  std::set<std::string> names;
  for (const auto& l : s["links"]) names.insert(l.value("name", ""));
  EXPECT_EQ(names, (std::set<std::string>{"wan1", "wan2", "cell1", "cell2"}));
}

TEST_F(Scenario, UpstreamLossTakesWan1Down) {
  UPLINK_START_DAEMON(lab_config());
  ASSERT_TRUE(eventually([&] { return link_state("wan1") == "up"; }, 15s, "wan1 up"));
  fault("eth1", {"upstream-down"});
  EXPECT_TRUE(eventually([&] { return link_state("wan1") == "down"; }, 10s, "wan1 down after upstream-down"));
  EXPECT_EQ(link_state("wan2"), "up");
  fault("eth1", {"upstream-up"});
  EXPECT_TRUE(eventually([&] { return link_state("wan1") == "up"; }, 15s, "wan1 back up"));
}

TEST_F(Scenario, FixtureWorksWithoutDaemon) {
  // The lab half of the fixture is usable on its own: exec and faults.
  auto r = exec("router", {"ip", "-br", "link"});
  ASSERT_TRUE(r.ok()) << r.err;
  for (const char* ifname : {"eth1", "eth2", "wwan0", "wwan1", "lan0"}) {
    EXPECT_NE(r.out.find(ifname), std::string::npos) << ifname;
  }
  EXPECT_TRUE(fault("wwan1", {"carrier-down"}));
  EXPECT_NE(exec("router", {"ip", "link", "show", "wwan1"}).out.find("NO-CARRIER"), std::string::npos);
  // No default route in router's main table: uplinkd owns routing.
  EXPECT_EQ(exec("router", {"ip", "route", "show", "default"}).out, "");
}

}  // namespace
}  // namespace uplink::lab
