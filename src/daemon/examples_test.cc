// The shipped example configurations load with every module's sections
// registered, as uplinkd and `uplinkctl config check` load them.
#include <gtest/gtest.h>
#include <unistd.h>

#include "cellular/cellular_config.h"
#include "config/loader.h"
#include "config/writer.h"
#include "daemon/modules.h"

namespace uplink {
namespace {

class Examples : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { register_module_configs(); }
};

TEST_F(Examples, EdgeRouterLoads) {
  Config c = load_config_file(UPLINK_EXAMPLES_DIR "/edge-router.toml");
  EXPECT_EQ(c.link_order, (std::vector<std::string>{"wan1", "dsl", "cell1", "cell2", "vpn1"}));
  EXPECT_TRUE(c.policies.at("scada").is_private);
  EXPECT_TRUE(c.daemon.fail_closed);
  EXPECT_EQ(c.policy_order, (std::vector<std::string>{"default", "bulk", "scada"}));
  ASSERT_EQ(c.rules.size(), 4u);
  EXPECT_TRUE(c.rules.back().is_catch_all());
  EXPECT_EQ(c.links.at("cell2").private_routes.at(0).to_string(), "10.200.0.0/16");
  EXPECT_TRUE(c.links.at("cell2").metered);
  EXPECT_EQ(c.links.at("cell2").probe.targets.at(0).port, 53);
  EXPECT_EQ(c.links.at("dsl").probe.targets.at(0).port, 443);
  EXPECT_EQ(c.links.at("cell1").table, 102u);
  EXPECT_EQ(c.links.at("cell2").fwmark, 0x400u);
  const CellularLink& cell1 = cellular_of(c.links.at("cell1"));
  ASSERT_TRUE(cell1.sim);
  EXPECT_EQ(cell1.sim->slots, (std::vector<int>{1, 2}));
  EXPECT_EQ(cell1.radio.min_signal, 15);
  EXPECT_EQ(cellular_of(c.links.at("cell2")).apn_user, "rtu-0042");
  // And its effective form reads back identically.
  Config again = parse_config(to_toml(c, false), c.path);
  EXPECT_EQ(to_toml(again, false), to_toml(c, false));
  EXPECT_EQ(again, c);
}

TEST_F(Examples, LabLoadsIfPresent) {
  const char* path = UPLINK_EXAMPLES_DIR "/lab.toml";
  if (::access(path, F_OK) != 0) GTEST_SKIP() << "config/lab.toml not written yet";
  Config c = load_config_file(path);
  EXPECT_FALSE(c.links.empty());
  EXPECT_EQ(parse_config(to_toml(c), c.path), c);
}

}  // namespace
}  // namespace uplink
