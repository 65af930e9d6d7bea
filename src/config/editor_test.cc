// Comment-preserving edits: every test asserts the exact output text.
#include "config/editor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "config/loader.h"

namespace uplink {
namespace {

const std::string kPath = "cfg.toml";

const std::string kFile = R"(# uplinkd test config
[daemon]
log_level = "info"   # chatty enough

# Primary line
[links.wan1]
kind = "ethernet"
interface = "eth1"   # the fiber

[links.wan1.probe]
targets = ["203.0.113.1"]
interval = "1s"      # steady

# LTE backup
[links.cell1]
kind = "cellular"
interface = "wwan0"

[links.cell1.probe]
targets = ["203.0.113.2"]

# ---- policies ----

[policies.default]
members = [
  { link = "wan1", tier = 1 },
  { link = "cell1", tier = 2 },
]

# LAN clients
[[rules]]
name = "lan"
source = "192.168.50.0/24"
policy = "default"

# everything else
[[rules]]
name = "all"
policy = "default"
)";

// kFile with one exact substring replaced; fails the test if it is not there.
std::string with(const std::string& from, const std::string& to, std::string base = kFile) {
  auto pos = base.find(from);
  EXPECT_NE(pos, std::string::npos) << "test bug: '" << from << "' not in base";
  if (pos == std::string::npos) return base;
  return base.replace(pos, from.size(), to);
}

std::string ok(const Result<std::string>& r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : std::string();
}

std::string err(const Result<std::string>& r) {
  EXPECT_FALSE(r.ok()) << (r.ok() ? r.value() : "");
  return r.ok() ? std::string() : r.error().message;
}

TEST(Editor, BaseFileIsValid) { EXPECT_NO_THROW(parse_config(kFile, kPath)); }

// ---- set_value ----

TEST(Editor, ReplacesValueInPlaceKeepingTheComment) {
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1", "probe"}, "interval", "500ms")),
            with("interval = \"1s\"      # steady", "interval = \"500ms\"      # steady"));
}

TEST(Editor, DottedCliKeyReachesTheSubTable) {
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1"}, "probe.interval", "500ms")),
            with("interval = \"1s\"      # steady", "interval = \"500ms\"      # steady"));
}

TEST(Editor, InsertsMissingKeyAtTheEndOfItsTable) {
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1"}, "gateway", "198.18.1.1")),
            with("interface = \"eth1\"   # the fiber\n", "interface = \"eth1\"   # the fiber\ngateway = \"198.18.1.1\"\n"));
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1"}, "probe.fast_interval", "50ms")),
            with("interval = \"1s\"      # steady\n", "interval = \"1s\"      # steady\nfast_interval = \"50ms\"\n"));
}

TEST(Editor, Gateway6IsAStringThatMustBeIpv6) {
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1"}, "gateway6", "2001:db8:1::1")),
            with("interface = \"eth1\"   # the fiber\n",
                 "interface = \"eth1\"   # the fiber\ngateway6 = \"2001:db8:1::1\"\n"));
  std::string e = err(set_value(kFile, kPath, {"links", "wan1"}, "gateway6", "198.18.1.1"));
  EXPECT_NE(e.find("nothing was changed"), std::string::npos) << e;
  EXPECT_NE(e.find("links.wan1.gateway6: '198.18.1.1' is not an IPv6 address (IPv4: use 'gateway')"), std::string::npos)
      << e;
}

TEST(Editor, CreatesAMissingSubTableAfterTheLinksOtherSections) {
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1", "quality"}, "max_loss", "5")),
            with("interval = \"1s\"      # steady\n",
                 "interval = \"1s\"      # steady\n\n[links.wan1.quality]\nmax_loss = 5\n"));
}

TEST(Editor, CreatesDaemonAboveTheFirstSectionAndItsComments) {
  std::string text = "# my router\n\n# wan\n[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n";
  EXPECT_EQ(ok(set_value(text, kPath, {"daemon"}, "log_level", "debug")),
            "# my router\n\n[daemon]\nlog_level = \"debug\"\n\n# wan\n[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\n"
            "targets = [\"203.0.113.1\"]\n");
}

TEST(Editor, ConvertsCliStringsBySchema) {
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1", "probe"}, "targets", "203.0.113.5, 203.0.113.6")),
            with("targets = [\"203.0.113.1\"]", "targets = [\"203.0.113.5\", \"203.0.113.6\"]"));
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1", "probe"}, "timeout", "auto")),
            with("interval = \"1s\"      # steady\n", "interval = \"1s\"      # steady\ntimeout = \"auto\"\n"));
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1"}, "metered", "yes")),
            with("# the fiber\n", "# the fiber\nmetered = true\n"));
  EXPECT_EQ(ok(set_value(kFile, kPath, {"links", "wan1"}, "fwmark", "0x800")),
            with("# the fiber\n", "# the fiber\nfwmark = 0x800\n"));
}

TEST(Editor, MembersFromCli) {
  EXPECT_EQ(ok(set_value(kFile, kPath, {"policies", "default"}, "members", "cell1:1:2,wan1:2")),
            with("members = [\n  { link = \"wan1\", tier = 1 },\n  { link = \"cell1\", tier = 2 },\n]",
                 "members = [\n  { link = \"cell1\", tier = 1, weight = 2 },\n  { link = \"wan1\", tier = 2, weight = 1 },\n]"));
  EXPECT_EQ(err(set_value(kFile, kPath, {"policies", "default"}, "members", "wan1:x")),
            "policies.default.members: invalid member 'wan1:x' (expected LINK[:TIER[:WEIGHT]], e.g. wan1:1:3)");
}

TEST(Editor, EnableDisable) {
  std::string disabled = ok(set_link_enabled(kFile, kPath, "cell1", false));
  EXPECT_EQ(disabled, with("interface = \"wwan0\"\n", "interface = \"wwan0\"\nenabled = false\n"));
  EXPECT_FALSE(parse_config(disabled, kPath).links.at("cell1").enabled);
  std::string enabled = ok(set_link_enabled(disabled, kPath, "cell1", true));
  EXPECT_EQ(enabled, with("interface = \"wwan0\"\n", "interface = \"wwan0\"\nenabled = true\n"));
}

TEST(Editor, SetFailures) {
  EXPECT_EQ(err(set_value(kFile, kPath, {"links", "wan9"}, "enabled", "false")), "link 'wan9' does not exist");
  EXPECT_EQ(err(set_value(kFile, kPath, {"links", "wan1", "probe"}, "intervall", "1s")),
            "unknown key 'intervall' in links.wan1.probe (did you mean 'interval'?)");
  EXPECT_EQ(err(set_value(kFile, kPath, {"links", "wan1"}, "metered", "maybe")),
            "links.wan1.metered: expected true or false, got 'maybe'");
  EXPECT_EQ(err(set_value(kFile, kPath, {"links", "wan1"}, "table", "ten")),
            "links.wan1.table: expected an integer, got 'ten'");
  EXPECT_EQ(err(set_value(kFile, kPath, {"links", "wan1"}, "probe", "x")),
            "links.wan1.probe is a table: set one of its keys, e.g. probe.KEY=VALUE");
  // Validation of the result, with the position in the new text.
  EXPECT_EQ(err(set_value(kFile, kPath, {"links", "wan1", "probe"}, "interval", "10 parsecs")),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:12:12: "
            "links.wan1.probe.interval: invalid duration '10 parsecs': unknown unit 'parsecs' (ns, us, ms, s, m, h, d)");
  EXPECT_EQ(err(set_value(kFile, kPath, {"links", "wan1"}, "apn", "internet")),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:9:1: "
            "links.wan1.apn: only cellular links take 'apn' (kind is 'ethernet')");
}

TEST(Editor, DottedKeyTablesGetDottedInserts) {
  std::string text = "[links.wan1]\ninterface = \"eth1\"\nprobe.targets = [\"203.0.113.1\"]\n\n[policies.p]\nmembers = [{ link = \"wan1\" }]\n";
  EXPECT_EQ(ok(set_value(text, kPath, {"links", "wan1", "probe"}, "interval", "2s")),
            "[links.wan1]\ninterface = \"eth1\"\nprobe.targets = [\"203.0.113.1\"]\nprobe.interval = \"2s\"\n\n[policies.p]\n"
            "members = [{ link = \"wan1\" }]\n");
}

TEST(Editor, InlineTablesAreReplacedInPlaceButNotExtended) {
  std::string text = "[links.wan1]\ninterface = \"eth1\"\nprobe = { targets = [\"203.0.113.1\"], interval = \"1s\" }\n";
  EXPECT_EQ(ok(set_value(text, kPath, {"links", "wan1", "probe"}, "interval", "2s")),
            "[links.wan1]\ninterface = \"eth1\"\nprobe = { targets = [\"203.0.113.1\"], interval = \"2s\" }\n");
  EXPECT_EQ(err(set_value(text, kPath, {"links", "wan1", "probe"}, "up_after", "3")),
            "cannot add 'up_after': the table is written inline ({ ... }); edit the file by hand");
}

TEST(Editor, KeepsCrlfLineEndings) {
  std::string text = "[links.wan1]\r\ninterface = \"eth1\"\r\n[links.wan1.probe]\r\ntargets = [\"203.0.113.1\"]\r\n";
  EXPECT_EQ(ok(set_value(text, kPath, {"links", "wan1"}, "metered", "true")),
            "[links.wan1]\r\ninterface = \"eth1\"\r\nmetered = true\r\n[links.wan1.probe]\r\ntargets = [\"203.0.113.1\"]\r\n");
}

TEST(Editor, BrokenFileIsNotEdited) {
  EXPECT_EQ(err(set_value("[links.wan1\n", kPath, {"links", "wan1"}, "metered", "true")),
            "cfg.toml:1:12: syntax error in a table header: Error while parsing table header: expected ']', saw '\\n' (fix the file before editing it)");
}

TEST(Editor, SetValuesValidatesOnlyTheEnd) {
  std::string with_apn = with("interface = \"wwan0\"\n", "interface = \"wwan0\"\napn = \"internet\"  # public\n");
  // One at a time, the first step (kind=ethernet while apn is set) is invalid...
  EXPECT_EQ(err(set_value(with_apn, kPath, {"links", "cell1"}, "kind", "ethernet")),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:18:1: "
            "links.cell1.apn: only cellular links take 'apn' (kind is 'ethernet')");
  // ...together they are a valid change.
  EXPECT_EQ(ok(set_values(with_apn, kPath, {"links", "cell1"}, {{"kind", "ethernet"}, {"probe.interval", "3s"}}, {"apn"})),
            with("kind = \"cellular\"\ninterface = \"wwan0\"\napn = \"internet\"  # public\n\n[links.cell1.probe]\n"
                 "targets = [\"203.0.113.2\"]\n",
                 "kind = \"ethernet\"\ninterface = \"wwan0\"\n\n[links.cell1.probe]\ntargets = [\"203.0.113.2\"]\n"
                 "interval = \"3s\"\n",
                 with_apn));
  // The final state is still validated.
  EXPECT_EQ(err(set_values(kFile, kPath, {"links", "cell1"}, {{"kind", "ethernet"}, {"apn", "x"}})),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:18:1: "
            "links.cell1.apn: only cellular links take 'apn' (kind is 'ethernet')");
  EXPECT_EQ(err(set_values(kFile, kPath, {"links", "cell1"}, {})), "nothing to change");
}

TEST(Editor, SetRuleValuesRenamesLast) {
  // The rename is listed first but applied last: the other edits still find "lan".
  EXPECT_EQ(ok(set_rule_values(kFile, kPath, "lan", {{"name", "office"}, {"source", "10.0.0.0/8"}, {"sticky", "5m"}})),
            with("name = \"lan\"\nsource = \"192.168.50.0/24\"\npolicy = \"default\"\n",
                 "name = \"office\"\nsource = \"10.0.0.0/8\"\npolicy = \"default\"\nsticky = \"5m\"\n"));
  // Unsetting the only match makes it a catch-all in front of "all".
  EXPECT_EQ(err(set_rule_values(kFile, kPath, "lan", {{"sticky", "5m"}}, {"source"})),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:37:1: "
            "rules[1]: unreachable: rule 'all' follows catch-all rule 'lan' at line 31");
}

// ---- unset_value ----

TEST(Editor, UnsetRemovesTheWholeLine) {
  EXPECT_EQ(ok(unset_value(kFile, kPath, {"links", "wan1"}, "probe.interval")),
            with("interval = \"1s\"      # steady\n", ""));
  EXPECT_EQ(err(unset_value(kFile, kPath, {"links", "wan1"}, "gateway")), "links.wan1.gateway is not set");
  EXPECT_EQ(err(unset_value(kFile, kPath, {"links", "wan1"}, "interface")),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:6:1: "
            "links.wan1: missing required key 'interface'");
}

// ---- links ----

TEST(Editor, RemovingALinkAPolicyUsesFails) {
  EXPECT_EQ(err(remove_link(kFile, kPath, "cell1")),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:19:12: "
            "policies.default.members[1].link: link 'cell1' does not exist (defined links: wan1)");
}

TEST(Editor, RemoveLinkTakesSubTablesAndAttachedComments) {
  std::string one_member = ok(set_policy_members(kFile, kPath, "default", {{"wan1", 1, 1}}));
  EXPECT_EQ(one_member, with("members = [\n  { link = \"wan1\", tier = 1 },\n  { link = \"cell1\", tier = 2 },\n]",
                             "members = [\n  { link = \"wan1\", tier = 1, weight = 1 },\n]"));
  std::string removed = ok(remove_link(one_member, kPath, "cell1"));
  EXPECT_EQ(removed, with("# LTE backup\n[links.cell1]\nkind = \"cellular\"\ninterface = \"wwan0\"\n\n[links.cell1.probe]\n"
                          "targets = [\"203.0.113.2\"]\n\n",
                          "", one_member));
  EXPECT_EQ(err(remove_link(kFile, kPath, "wan9")), "link 'wan9' does not exist");
}

TEST(Editor, RemoveLastSectionLeavesNoTrailingBlankLines) {
  std::string text = "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n\n"
                     "[links.wan2]\ninterface = \"eth2\"\n[links.wan2.probe]\ntargets = [\"203.0.113.1\"]\n";
  EXPECT_EQ(ok(remove_link(text, kPath, "wan2")),
            "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n");
}

TEST(Editor, AddLinkGoesAfterTheLastLink) {
  LinkAddSpec spec{"wan2", "ethernet", "eth2", "198.18.2.1", {"203.0.113.9", "203.0.113.10"},
                   {{"probe.interval", "2s"}, {"metered", "false"}, {"quality.max_loss", "5"}}};
  EXPECT_EQ(ok(add_link(kFile, kPath, spec)),
            with("targets = [\"203.0.113.2\"]\n",
                 "targets = [\"203.0.113.2\"]\n\n[links.wan2]\nkind = \"ethernet\"\ninterface = \"eth2\"\ngateway = "
                 "\"198.18.2.1\"\nmetered = false\n\n[links.wan2.probe]\ntargets = [\"203.0.113.9\", \"203.0.113.10\"]\n"
                 "interval = \"2s\"\n\n[links.wan2.quality]\nmax_loss = 5\n"));
}

TEST(Editor, AddLinkToAFileWithoutLinksGoesAbovePolicies) {
  std::string text = "[daemon]\nlog_level = \"info\"\n\n# rules\n[[rules]]\nname = \"x\"\npolicy = \"p\"\n";
  // The result is invalid (policy p does not exist); the text is checked via the error's position.
  std::string e = err(add_link(text, kPath, {"wan1", "ethernet", "eth1", std::nullopt, {"203.0.113.1"}, {}}));
  EXPECT_EQ(e, "the change would make the configuration invalid, nothing was changed: cfg.toml:14:10: "
               "rules[0].policy: policy 'p' does not exist (no policies are defined)");
  EXPECT_EQ(ok(add_link("[daemon]\nlog_level = \"info\"\n", kPath,
                        {"wan1", "ethernet", "eth1", std::nullopt, {"203.0.113.1"}, {}})),
            "[daemon]\nlog_level = \"info\"\n\n[links.wan1]\nkind = \"ethernet\"\ninterface = \"eth1\"\n\n"
            "[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n");
}

TEST(Editor, AddLinkFailures) {
  EXPECT_EQ(err(add_link(kFile, kPath, {"wan1", "ethernet", "eth9", std::nullopt, {"203.0.113.1"}, {}})),
            "link 'wan1' already exists");
  EXPECT_EQ(err(add_link(kFile, kPath, {"wan2", "ethernet", "eth2", std::nullopt, {}, {}})),
            "link 'wan2' needs at least one probe target (--target IP)");
  EXPECT_EQ(err(add_link(kFile, kPath, {"wan2", "ethernet", "eth1", std::nullopt, {"203.0.113.1"}, {}})),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:24:13: "
            "links.wan2.interface: interface 'eth1' is already used by link 'wan1'");
  EXPECT_EQ(err(add_link(kFile, kPath, {"wan2", "ethernet", "eth2", std::nullopt, {"203.0.113.1"}, {{"colour", "red"}}})),
            "unknown key 'colour' in links.wan2 (known keys: kind, interface, gateway, gateway6, metered, enabled, "
            "table, fwmark, probe, quality, modem, apn, sim_slot, private_routes)");
}

// ---- policies ----

TEST(Editor, AddAndRemovePolicy) {
  PolicyAddSpec spec{"bulk", "balance", {{"wan1", 1, 3}, {"cell1", 1, 1}}, "blackhole"};
  std::string added = ok(add_policy(kFile, kPath, spec));
  EXPECT_EQ(added, with("  { link = \"cell1\", tier = 2 },\n]\n",
                        "  { link = \"cell1\", tier = 2 },\n]\n\n[policies.bulk]\nmode = \"balance\"\nmembers = [\n"
                        "  { link = \"wan1\", tier = 1, weight = 3 },\n  { link = \"cell1\", tier = 1, weight = 1 },\n]\n"
                        "last_resort = \"blackhole\"\n"));
  EXPECT_EQ(ok(remove_policy(added, kPath, "bulk")), kFile);
  EXPECT_EQ(err(add_policy(kFile, kPath, {"default", "failover", {{"wan1", 1, 1}}, std::nullopt})),
            "policy 'default' already exists");
  // Rules still use it: the removal is refused.
  EXPECT_EQ(err(remove_policy(kFile, kPath, "default")),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:28:10: "
            "rules[0].policy: policy 'default' does not exist (no policies are defined)\n"
            "cfg.toml:33:10: rules[1].policy: policy 'default' does not exist (no policies are defined)");
  EXPECT_EQ(err(set_policy_members(kFile, kPath, "nope", {{"wan1", 1, 1}})), "policy 'nope' does not exist");
}

// ---- rules ----

TEST(Editor, AddRuleGoesBeforeTheCatchAll) {
  RuleSpec spec{"cam", {{"source", "192.168.60.0/24"}, {"policy", "default"}}};
  EXPECT_EQ(ok(add_rule(kFile, kPath, spec)),
            with("# everything else\n",
                 "[[rules]]\nname = \"cam\"\nsource = \"192.168.60.0/24\"\npolicy = \"default\"\n\n# everything else\n"));
}

TEST(Editor, AddRuleBeforeANamedRule) {
  RuleSpec spec{"web", {{"protocol", "tcp"}, {"destination_port", "80,443,8000-8100"}, {"policy", "default"}}};
  std::string out = ok(add_rule(kFile, kPath, spec, std::string("lan")));
  EXPECT_EQ(out, with("# LAN clients\n",
                      "[[rules]]\nname = \"web\"\nprotocol = \"tcp\"\ndestination_port = [80, 443, \"8000-8100\"]\n"
                      "policy = \"default\"\n\n# LAN clients\n"));
  Config c = parse_config(out, kPath);
  EXPECT_EQ(c.rules.at(0).name, "web");
  EXPECT_EQ(c.rules.at(0).destination_ports.size(), 3u);
}

TEST(Editor, AddRuleAppendsWhenThereIsNoCatchAll) {
  std::string no_catch_all = ok(remove_rule(kFile, kPath, "all"));
  EXPECT_EQ(no_catch_all, with("\n# everything else\n[[rules]]\nname = \"all\"\npolicy = \"default\"\n", ""));
  EXPECT_EQ(ok(add_rule(no_catch_all, kPath, {"rest", {{"policy", "default"}}})),
            no_catch_all + "\n[[rules]]\nname = \"rest\"\npolicy = \"default\"\n");
}

TEST(Editor, AddRuleFailures) {
  // A second catch-all would land before the first and make it unreachable.
  EXPECT_EQ(err(add_rule(kFile, kPath, {"rest", {{"policy", "default"}}})),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:41:1: "
            "rules[2]: unreachable: rule 'all' follows catch-all rule 'rest' at line 36");
  EXPECT_EQ(err(add_rule(kFile, kPath, {"lan", {{"policy", "default"}}})), "rule 'lan' already exists");
  EXPECT_EQ(err(add_rule(kFile, kPath, {"x", {{"policy", "default"}}}, std::string("nope"))),
            "rule 'nope' does not exist");
  EXPECT_EQ(err(add_rule(kFile, kPath, {"x", {{"src", "10.0.0.0/8"}, {"policy", "default"}}})),
            "unknown key 'src' in rules.x (did you mean 'source'?)");
}

TEST(Editor, SetAndUnsetRuleValues) {
  EXPECT_EQ(ok(set_rule_value(kFile, kPath, "lan", "source", "10.0.0.0/8")),
            with("source = \"192.168.50.0/24\"", "source = \"10.0.0.0/8\""));
  EXPECT_EQ(ok(set_rule_value(kFile, kPath, "all", "sticky", "10m")),
            with("name = \"all\"\npolicy = \"default\"\n", "name = \"all\"\npolicy = \"default\"\nsticky = \"10m\"\n"));
  EXPECT_EQ(err(set_rule_value(kFile, kPath, "nope", "policy", "default")), "rule 'nope' does not exist");
  // Making "lan" a catch-all makes "all" unreachable.
  EXPECT_EQ(err(unset_rule_value(kFile, kPath, "lan", "source")),
            "the change would make the configuration invalid, nothing was changed: cfg.toml:36:1: "
            "rules[1]: unreachable: rule 'all' follows catch-all rule 'lan' at line 31");
}

TEST(Editor, RemoveRuleTakesItsComment) {
  EXPECT_EQ(ok(remove_rule(kFile, kPath, "lan")),
            with("# LAN clients\n[[rules]]\nname = \"lan\"\nsource = \"192.168.50.0/24\"\npolicy = \"default\"\n\n", ""));
  EXPECT_EQ(err(remove_rule(kFile, kPath, "nope")), "rule 'nope' does not exist");
}

TEST(Editor, ParseKeyValue) {
  auto kv = parse_key_value("probe.interval=500ms");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->key, "probe.interval");
  EXPECT_EQ(kv->value, "500ms");
  EXPECT_EQ(parse_key_value("a=b=c")->value, "b=c");
  EXPECT_EQ(parse_key_value("novalue").error().message, "expected KEY=VALUE, got 'novalue'");
}

// ---- write-back ----

class WriteBack : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uplink-config-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(WriteBack, ReplacesContentAndKeepsMode) {
  std::string path = dir_ + "/uplinkd.toml";
  ASSERT_TRUE(write_file_atomically(path, "old\n").ok());
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto r = write_file_atomically(path, "new\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::string text;
  ASSERT_TRUE(read_text_file(path, text));
  EXPECT_EQ(text, "new\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), std::filesystem::directory_iterator()), 1);
}

TEST_F(WriteBack, MissingDirectoryIsAnErrorValue) {
  auto r = write_file_atomically(dir_ + "/no/such/dir/uplinkd.toml", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cannot create a temporary file next to '" + dir_ +
                                   "/no/such/dir/uplinkd.toml': No such file or directory; the file was not changed");
}

TEST_F(WriteBack, EditThenWriteThenLoad) {
  std::string path = dir_ + "/uplinkd.toml";
  ASSERT_TRUE(write_file_atomically(path, kFile).ok());
  std::string text;
  ASSERT_TRUE(read_text_file(path, text));
  auto edited = set_link_enabled(text, path, "wan1", false);
  ASSERT_TRUE(edited.ok()) << edited.error().message;
  ASSERT_TRUE(write_file_atomically(path, *edited).ok());
  EXPECT_FALSE(load_config_file(path).links.at("wan1").enabled);
}

}  // namespace
}  // namespace uplink
