#include "config/diff.h"

#include <gtest/gtest.h>

#include "config/loader.h"

namespace uplink {
namespace {

const std::string kBase = R"([links.wan1]
interface = "eth1"
[links.wan1.probe]
targets = ["203.0.113.1"]

[links.wan2]
interface = "eth2"
[links.wan2.probe]
targets = ["203.0.113.2"]

[policies.default]
members = [{ link = "wan1" }, { link = "wan2", tier = 2 }]

[[rules]]
name = "all"
policy = "default"
)";

Config parse(const std::string& s) { return parse_config(s, "t.toml"); }

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

TEST(Diff, IdenticalConfigsAreEmpty) {
  ConfigDiff d = diff_configs(parse(kBase), parse(kBase));
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.summary(), "no changes");
}

TEST(Diff, EnabledAloneCountsAsChanged) {
  ConfigDiff d = diff_configs(parse(kBase), parse(replaced(kBase, "interface = \"eth2\"", "interface = \"eth2\"\nenabled = false")));
  EXPECT_FALSE(d.empty());
  EXPECT_EQ(d.links_changed, std::vector<std::string>{"wan2"});
  EXPECT_TRUE(d.link_field_changed("wan2", "enabled"));
  EXPECT_FALSE(d.link_field_changed("wan2", "probe"));
  EXPECT_FALSE(d.rules_changed);
  EXPECT_EQ(d.summary(), "links: ~wan2(enabled)");
}

TEST(Diff, ProbeChange) {
  ConfigDiff d = diff_configs(parse(kBase), parse(replaced(kBase, "targets = [\"203.0.113.1\"]",
                                                               "targets = [\"203.0.113.1\"]\ninterval = \"2s\"")));
  EXPECT_EQ(d.links_changed, std::vector<std::string>{"wan1"});
  EXPECT_EQ(d.fields.at("links.wan1"), std::vector<std::string>{"probe"});
}

TEST(Diff, AddedAndRemovedLinksAndPolicyMembers) {
  std::string after = replaced(kBase, "[links.wan2]\ninterface = \"eth2\"\n[links.wan2.probe]\ntargets = [\"203.0.113.2\"]\n",
                               "[links.cell1]\nkind = \"cellular\"\ninterface = \"wwan0\"\n[links.cell1.probe]\ntargets = "
                               "[\"203.0.113.2\"]\n");
  after = replaced(after, "{ link = \"wan2\", tier = 2 }", "{ link = \"cell1\", tier = 2 }");
  ConfigDiff d = diff_configs(parse(kBase), parse(after));
  EXPECT_EQ(d.links_added, std::vector<std::string>{"cell1"});
  EXPECT_EQ(d.links_removed, std::vector<std::string>{"wan2"});
  EXPECT_TRUE(d.links_changed.empty());  // wan1 untouched; cell1 even took wan2's table and mark
  EXPECT_EQ(d.policies_changed, std::vector<std::string>{"default"});
  EXPECT_EQ(d.fields.at("policies.default"), std::vector<std::string>{"members"});
  EXPECT_EQ(d.summary(), "links: +cell1 -wan2; policies: ~default(members)");
}

TEST(Diff, AutoTableShiftIsAChange) {
  // Removing the first link moves the second one's automatic table id.
  std::string after = replaced(kBase, "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n", "");
  after = replaced(after, "{ link = \"wan1\" }, ", "");
  ConfigDiff d = diff_configs(parse(kBase), parse(after));
  EXPECT_EQ(d.links_removed, std::vector<std::string>{"wan1"});
  EXPECT_EQ(d.links_changed, std::vector<std::string>{"wan2"});
  EXPECT_EQ(d.fields.at("links.wan2"), (std::vector<std::string>{"table", "fwmark"}));
}

TEST(Diff, RulesAndDaemon) {
  std::string after = replaced(kBase, "name = \"all\"", "name = \"everything\"");
  after = "[daemon]\nlog_level = \"debug\"\n" + after;
  ConfigDiff d = diff_configs(parse(kBase), parse(after));
  EXPECT_TRUE(d.rules_changed);
  EXPECT_TRUE(d.daemon_changed);
  EXPECT_TRUE(d.links_changed.empty());
  EXPECT_EQ(d.summary(), "rules changed; daemon changed");
}

TEST(Diff, PolicyAddedAndRemoved) {
  std::string after = replaced(kBase, "[policies.default]", "[policies.backup]\nmembers = [{ link = \"wan2\" }]\n\n[policies.default]");
  ConfigDiff d = diff_configs(parse(kBase), parse(after));
  EXPECT_EQ(d.policies_added, std::vector<std::string>{"backup"});
  ConfigDiff back = diff_configs(parse(after), parse(kBase));
  EXPECT_EQ(back.policies_removed, std::vector<std::string>{"backup"});
  EXPECT_EQ(back.summary(), "policies: -backup");
}

}  // namespace
}  // namespace uplink
