// The shipped example configurations must always load.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "config/loader.h"
#include "config/writer.h"

namespace uplink {
namespace {

TEST(Examples, EdgeRouterLoads) {
  Config c = load_config_file(UPLINK_EXAMPLES_DIR "/edge-router.toml");
  EXPECT_EQ(c.link_order, (std::vector<std::string>{"wan1", "dsl", "cell1", "cell2"}));
  EXPECT_EQ(c.policy_order, (std::vector<std::string>{"default", "bulk", "scada"}));
  ASSERT_EQ(c.rules.size(), 4u);
  EXPECT_TRUE(c.rules.back().is_catch_all());
  EXPECT_EQ(c.links.at("cell2").private_routes.at(0).to_string(), "10.200.0.0/16");
  EXPECT_TRUE(c.links.at("cell2").metered);
  EXPECT_EQ(c.links.at("cell2").probe.targets.at(0).port, 53);
  EXPECT_EQ(c.links.at("dsl").probe.targets.at(0).port, 443);
  EXPECT_EQ(c.links.at("cell1").table, 102u);
  EXPECT_EQ(c.links.at("cell2").fwmark, 0x400u);
  // And its effective form reads back identically.
  EXPECT_EQ(parse_config(to_toml(c), c.path), c);
}

TEST(Examples, LabLoadsIfPresent) {
  const char* path = UPLINK_EXAMPLES_DIR "/lab.toml";
  if (::access(path, F_OK) != 0) GTEST_SKIP() << "config/lab.toml not written yet";
  Config c = load_config_file(path);
  EXPECT_FALSE(c.links.empty());
  EXPECT_EQ(parse_config(to_toml(c), c.path), c);
}

// The fuzz seeds are valid configurations in less common spellings (inline
// tables, dotted keys, [[policies.p.members]]): they must load and round-trip.
TEST(Examples, FuzzSeedsLoadAndRoundTrip) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(UPLINK_CONFIG_TESTDATA "/fuzz")) {
    SCOPED_TRACE(e.path().string());
    Config c = load_config_file(e.path().string());
    EXPECT_FALSE(c.links.empty());
    EXPECT_EQ(parse_config(to_toml(c), c.path), c);
    ++n;
  }
  EXPECT_GE(n, 2);
}

}  // namespace
}  // namespace uplink
