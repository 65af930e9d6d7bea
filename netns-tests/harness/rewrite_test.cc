#include <gtest/gtest.h>

#include "harness/lab_test.h"

namespace uplink::lab {
namespace {

TEST(RewriteDaemonPaths, ReplacesKeysOnlyInDaemonSection) {
  std::string in =
      "[daemon]\nsocket = \"/run/uplinkd/control.sock\"\nlog_level = \"info\"\n\n"
      "[links.wan1]\nsocket = \"not-ours\"\n";
  std::string out = rewrite_daemon_paths(in, "/tmp/x/s.sock", "/tmp/x/state", "/tmp/x/hooks");
  EXPECT_NE(out.find("socket = \"/tmp/x/s.sock\""), std::string::npos);
  EXPECT_NE(out.find("state_dir = \"/tmp/x/state\""), std::string::npos);
  EXPECT_NE(out.find("hooks_dir = \"/tmp/x/hooks\""), std::string::npos);
  EXPECT_NE(out.find("log_level = \"info\""), std::string::npos);
  EXPECT_NE(out.find("socket = \"not-ours\""), std::string::npos);
  EXPECT_EQ(out.find("/run/uplinkd/control.sock"), std::string::npos);
  // The added keys stay in [daemon], before the next section.
  EXPECT_LT(out.find("hooks_dir"), out.find("[links.wan1]"));
}

TEST(RewriteDaemonPaths, AddsDaemonSectionWhenMissing) {
  std::string out = rewrite_daemon_paths("[links.a]\nkind = \"ethernet\"\n", "/s", "/d", "/h");
  EXPECT_EQ(out.rfind("[daemon]\nsocket = \"/s\"\n", 0), 0u);
  EXPECT_NE(out.find("[links.a]"), std::string::npos);
}

TEST(LineInfo, Addressing) {
  EXPECT_EQ(line_info("wwan0").address, "198.18.3.2");
  EXPECT_EQ(line_info("wwan0").gateway6, "2001:db8:3::1");
  EXPECT_EQ(line_info("eth2").isp, "isp-dsl");
  EXPECT_THROW(line_info("eth9"), std::invalid_argument);
}

TEST(RandomPrefix, ShapeAndSpread) {
  auto a = random_prefix(), b = random_prefix();
  EXPECT_EQ(a.size(), 6u);
  EXPECT_EQ(a[0], 't');
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace uplink::lab
