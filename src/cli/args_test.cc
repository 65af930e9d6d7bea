#include "cli/args.h"

#include <gtest/gtest.h>

namespace uplink::cli {
namespace {

TEST(ParseAssignments, KeepsValuesAsStrings) {
  auto r = parse_assignments({"probe.interval=500ms", "metered=true", "probe.targets=a,b"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (Json{{"probe.interval", "500ms"}, {"metered", "true"}, {"probe.targets", "a,b"}}));
}

TEST(ParseAssignments, ValueMayContainEqualsOrBeEmpty) {
  auto r = parse_assignments({"probe.http_path=/x?a=b", "apn="});
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["probe.http_path"], "/x?a=b");
  EXPECT_EQ((*r)["apn"], "");
}

TEST(ParseAssignments, Errors) {
  auto a = parse_assignments({"interval"});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message, "expected KEY=VALUE, got 'interval'");
  auto b = parse_assignments({"=5"});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().message, "expected KEY=VALUE, got '=5'");
  auto c = parse_assignments({"a=1", "a=2"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "key 'a' given twice");
}

TEST(ParseMember, Forms) {
  EXPECT_EQ(*parse_member("wan1"), (Json{{"link", "wan1"}}));
  EXPECT_EQ(*parse_member("wan1:2"), (Json{{"link", "wan1"}, {"tier", 2}}));
  EXPECT_EQ(*parse_member("wan1:1:3"), (Json{{"link", "wan1"}, {"tier", 1}, {"weight", 3}}));
}

TEST(ParseMember, Errors) {
  EXPECT_EQ(parse_member("").error().message, "invalid member '': expected LINK[:TIER[:WEIGHT]]");
  EXPECT_EQ(parse_member("a:1:2:3").error().message, "invalid member 'a:1:2:3': expected LINK[:TIER[:WEIGHT]]");
  EXPECT_EQ(parse_member("a:x").error().message, "invalid tier in member 'a:x': expected an integer >= 1");
  EXPECT_EQ(parse_member("a:0").error().message, "invalid tier in member 'a:0': expected an integer >= 1");
  EXPECT_EQ(parse_member("a:1:-2").error().message, "invalid weight in member 'a:1:-2': expected an integer >= 1");
}

TEST(ParseMembers, KeepsOrderAndStopsAtFirstError) {
  auto ok = parse_members({"wan1:1:3", "cell1:2"});
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[1]["link"], "cell1");
  auto bad = parse_members({"wan1", "x:y"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "invalid tier in member 'x:y': expected an integer >= 1");
}

}  // namespace
}  // namespace uplink::cli
