// The config fuzz seeds must load (the shipped examples, which use module
// sections, are checked with every module registered: src/daemon/examples_test.cc).
#include <gtest/gtest.h>

#include <filesystem>

#include "config/loader.h"
#include "config/writer.h"

namespace uplink {
namespace {

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
