#include "plugin/inputs.h"

#include <gtest/gtest.h>

namespace uplink::plugin {
namespace {

TEST(SampleLines, GoodLines) {
  auto s = parse_sample_line(R"({"stream":"temp1","ts":1764669600.25,"value":21.5})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stream, "temp1");
  EXPECT_DOUBLE_EQ(s->ts, 1764669600.25);
  EXPECT_DOUBLE_EQ(s->value, 21.5);
  EXPECT_TRUE(s->has_ts);
  auto no_ts = parse_sample_line("{\"stream\":\"a\",\"value\":1}\r");
  ASSERT_TRUE(no_ts);
  EXPECT_FALSE(no_ts->has_ts);
}

TEST(SampleLines, BadLinesAreRefusedWithAReason) {
  for (const char* bad : {"", "not json", "[1,2]", R"({"stream":"a"})", R"({"value":1})", R"({"stream":"","value":1})",
                          R"({"stream":5,"value":1})", R"({"stream":"a","value":"1"})",
                          R"({"stream":"a","value":1,"ts":"yesterday"})", R"({"stream":"a","value":1e999})"}) {
    EXPECT_FALSE(parse_sample_line(bad)) << bad;
  }
}

}  // namespace
}  // namespace uplink::plugin
