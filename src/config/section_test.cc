// Module-owned configuration: a test section and a link extension registered
// in a local SectionRegistry, parsed, compared, diffed, written and reported
// with positions, exactly like the core's own sections.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "common/units.h"
#include "config/diff.h"
#include "config/loader.h"
#include "config/section.h"
#include "config/testing/parse_with.h"
#include "config/writer.h"

namespace uplink {
namespace {

// ---- a test module's types (what a module's runtime code would read) -------------

struct TestSection final : SectionValue {
  std::string name;
  Duration interval = 5s;
  uint64_t max_size = 1024;
  std::vector<std::string> tags;
  std::optional<Secret> token;
  std::string policy;
  bool equals(const SectionValue& o) const override {
    auto* t = dynamic_cast<const TestSection*>(&o);
    return t && t->name == name && t->interval == interval && t->max_size == max_size && t->tags == tags &&
           t->token == token && t->policy == policy;
  }
  std::string to_toml(bool mask) const override {
    std::string out = "[testmod]\nname = " + toml_quote(name) + "\ninterval = " +
                      toml_quote(format_duration(interval)) + "\nmax_size = " + toml_quote(format_size(max_size)) +
                      "\ntags = " + toml_string_array(tags) + "\n";
    if (token) out += "token = " + token->to_toml(mask) + "\n";
    if (!policy.empty()) out += "policy = " + toml_quote(policy) + "\n";
    return out;
  }
};

struct CellExtension final : SectionValue {
  std::string apn_user;
  bool roaming = false;
  Duration switch_after = 2min;
  bool equals(const SectionValue& o) const override {
    auto* c = dynamic_cast<const CellExtension*>(&o);
    return c && c->apn_user == apn_user && c->roaming == roaming && c->switch_after == switch_after;
  }
  std::string to_toml(bool) const override {
    std::string out;
    if (!apn_user.empty()) out += "apn_user = " + toml_quote(apn_user) + "\n";
    out += "roaming = " + std::string(roaming ? "true" : "false") + "\n";
    out += "sim.switch_after = " + toml_quote(format_duration(switch_after)) + "\n";
    return out;
  }
};

struct Absent final : SectionValue {
  bool equals(const SectionValue& o) const override { return dynamic_cast<const Absent*>(&o) != nullptr; }
  std::string to_toml(bool) const override { return ""; }
};

void register_test_module(SectionRegistry& r) {
  r.add(SectionSpec{
      .name = "testmod",
      .parse = [](const toml::node& node, SectionContext& ctx) -> std::shared_ptr<const SectionValue> {
        const toml::table* t = ctx.want_table(node, "testmod");
        if (!t) return nullptr;
        ctx.check_keys(*t, "testmod", {"name", "interval", "max_size", "tags", "token", "policy"});
        auto s = std::make_shared<TestSection>();
        if (auto v = ctx.get_string(*t, "name", "testmod", true)) s->name = *v;
        if (auto v = ctx.get_duration(*t, "interval", "testmod")) s->interval = *v;
        if (auto v = ctx.get_size(*t, "max_size", "testmod")) s->max_size = *v;
        if (auto v = ctx.get_string_array(*t, "tags", "testmod")) s->tags = *v;
        s->token = ctx.get_secret(*t, "token", "testmod");
        if (auto v = ctx.get_string(*t, "policy", "testmod")) s->policy = *v;
        return s;
      },
      .validate =
          [](const Config& c, SectionContext& ctx) {
            auto* s = c.section<TestSection>("testmod");
            if (s && !s->policy.empty() && !c.policies.count(s->policy)) {
              ctx.error_at(0, 0, "testmod.policy", "policy '" + s->policy + "' does not exist");
            }
          },
  });
  r.add(SectionSpec{
      .name = "absentmod",
      .parse = [](const toml::node&, SectionContext&) -> std::shared_ptr<const SectionValue> {
        return std::make_shared<Absent>();
      },
      .absent = [] { return std::make_shared<Absent>(); },
  });
  r.add(LinkExtensionSpec{
      .kind = "cellular",
      .keys = {"apn_user", "roaming", "sim"},
      .parse = [](const toml::table& t, const std::string& where,
                  SectionContext& ctx) -> std::shared_ptr<const SectionValue> {
        auto e = std::make_shared<CellExtension>();
        if (auto v = ctx.get_string(t, "apn_user", where)) e->apn_user = *v;
        if (auto v = ctx.get_bool(t, "roaming", where)) e->roaming = *v;
        if (const toml::table* sim = ctx.get_table(t, "sim", where)) {
          ctx.check_keys(*sim, where + ".sim", {"switch_after", "slots"});
          if (auto v = ctx.get_duration(*sim, "switch_after", where + ".sim")) e->switch_after = *v;
        }
        return e;
      },
  });
}

const SectionRegistry& test_registry() { return testing::registry_with<register_test_module>(); }

// Lines 1..10; what a case appends starts at line 11, inside [links.cell1].
const std::string kBase = R"([links.wan1]
interface = "eth1"
[links.wan1.probe]
targets = ["203.0.113.1"]

[links.cell1]
kind = "cellular"
interface = "wwan0"
probe.targets = ["203.0.113.2"]
probe.interval = "1s"
)";

const std::string kPolicy = R"(
[policies.default]
members = [{ link = "wan1" }]
)";

Config parse(const std::string& text) { return parse_config(text, "m.toml", test_registry()); }

std::string errors_of(const std::string& text, const SectionRegistry& r = test_registry()) {
  return testing::parse_error(text, "m.toml", r).value_or("(no error)");
}

TEST(Sections, ParsedByTheModuleAndReadBackTyped) {
  Config c = parse(kBase + kPolicy +
                   "\n[testmod]\nname = \"t\"\ninterval = \"250ms\"\nmax_size = \"2MiB\"\ntags = [\"a\", \"b\"]\n"
                   "token = \"s3cret\"\npolicy = \"default\"\n");
  const TestSection* s = c.section<TestSection>("testmod");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, "t");
  EXPECT_EQ(s->interval, Duration(250ms));
  EXPECT_EQ(s->max_size, 2u * 1024 * 1024);
  EXPECT_EQ(s->tags, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(s->token);
  EXPECT_EQ(s->token->value, "s3cret");
  EXPECT_FALSE(s->token->file);
  EXPECT_EQ(c.section<CellExtension>("testmod"), nullptr);  // another type
  EXPECT_EQ(c.section<TestSection>("nothere"), nullptr);
  // `absent` supplies a value for a section the file does not have.
  EXPECT_NE(c.section<Absent>("absentmod"), nullptr);
}

TEST(Sections, AbsentSectionStaysAbsentWithoutAnAbsentFunction) {
  Config c = parse(kBase);
  EXPECT_EQ(c.sections.count("testmod"), 0u);
  EXPECT_EQ(c.sections.count("absentmod"), 1u);
}

TEST(Sections, LinkExtensionParsedForItsKind) {
  Config c = parse(kBase + "apn_user = \"u\"\nroaming = true\n[links.cell1.sim]\nswitch_after = \"5m\"\n");
  const auto* e = c.links.at("cell1").extension_as<CellExtension>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->apn_user, "u");
  EXPECT_TRUE(e->roaming);
  EXPECT_EQ(e->switch_after, Duration(5min));
  EXPECT_EQ(c.links.at("wan1").extension, nullptr);
  // Called also when none of its keys is written: defaults.
  Config base = parse(kBase);
  const auto* d = base.links.at("cell1").extension_as<CellExtension>();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->switch_after, Duration(2min));
}

TEST(Sections, ErrorsAtTheirPositionsAllAtOnce) {
  // Lines 11..16: the section.
  std::string text = kBase + "\n[testmod]\nnmae = \"t\"\ninterval = \"10 parsecs\"\ntags = [\"a\", 3]\nmax_size = 5\n";
  EXPECT_EQ(errors_of(text),
            "m.toml:12:1: testmod: missing required key 'name'\n"
            "m.toml:13:1: testmod.nmae: unknown key (did you mean 'name'?)\n"
            "m.toml:14:12: testmod.interval: invalid duration '10 parsecs': unknown unit 'parsecs' (ns, us, ms, s, m, "
            "h, d)\n"
            "m.toml:15:14: testmod.tags[1]: expected a string, got an integer\n"
            "m.toml:16:12: testmod.max_size: expected a size string such as \"256MiB\", got an integer");
}

TEST(Sections, SectionNotATable) {
  EXPECT_EQ(errors_of("testmod = 5\n" + kBase), "m.toml:1:11: testmod: expected a table, got an integer");
}

TEST(Sections, ValidateHookSeesTheWholeConfig) {
  EXPECT_EQ(errors_of(kBase + "\n[testmod]\nname = \"t\"\npolicy = \"nope\"\n"),
            "m.toml: testmod.policy: policy 'nope' does not exist");
}

TEST(Sections, LinkExtensionErrorsAndForeignKeys) {
  EXPECT_EQ(errors_of(kBase + "roaming = \"yes\"\n[links.cell1.sim]\nswitch_afetr = \"1m\"\n"),
            "m.toml:11:11: links.cell1.roaming: expected a boolean (true or false), got a string\n"
            "m.toml:13:1: links.cell1.sim.switch_afetr: unknown key (did you mean 'switch_after'?)");
  // A cellular key on an Ethernet link is not silently ignored.
  EXPECT_EQ(errors_of("[links.wan1]\ninterface = \"eth1\"\napn_user = \"u\"\n[links.wan1.probe]\ntargets = "
                      "[\"203.0.113.1\"]\n"),
            "m.toml:3:1: links.wan1.apn_user: only cellular links take 'apn_user' (kind is 'ethernet')");
}

TEST(Sections, UnknownKeysStillRefused) {
  // Not registered (the global registry is empty in this test binary): an unknown key as before.
  EXPECT_EQ(errors_of(kBase + "\n[testmod]\nname = \"t\"\n", SectionRegistry()),
            "m.toml:12:2: testmod: unknown key (known keys: daemon, links, policies, rules)");
  // Registered: a typo of it gets a hint.
  EXPECT_EQ(errors_of(kBase + "\n[testmdo]\nname = \"t\"\n"), "m.toml:12:2: testmdo: unknown key (did you mean 'testmod'?)");
  // A key of the extension's own sub-table is still checked; and core link keys still are.
  EXPECT_EQ(errors_of(kBase + "colour = 1\n"),
            "m.toml:11:1: links.cell1.colour: unknown key (known keys: kind, interface, gateway, gateway6, metered, "
            "enabled, table, fwmark, probe, quality, modem, apn, sim_slot, private_routes, apn_user, roaming, sim)");
}

TEST(Sections, EqualityAndDiffGoThroughEquals) {
  std::string a = kBase + "\n[testmod]\nname = \"a\"\n";
  std::string b = kBase + "\n[testmod]\nname = \"b\"\n";
  EXPECT_EQ(parse(a), parse(a));  // two parses: different pointers, equal values
  EXPECT_NE(parse(a), parse(b));
  ConfigDiff d = diff_configs(parse(a), parse(b));
  EXPECT_EQ(d.sections_changed, std::vector<std::string>{"testmod"});
  EXPECT_TRUE(d.section_changed("testmod"));
  EXPECT_FALSE(d.empty());
  EXPECT_EQ(d.summary(), "sections: ~testmod");
  // Added and removed sections count as changed.
  EXPECT_EQ(diff_configs(parse(kBase), parse(a)).sections_changed, std::vector<std::string>{"testmod"});
  EXPECT_EQ(diff_configs(parse(a), parse(kBase)).sections_changed, std::vector<std::string>{"testmod"});
  EXPECT_TRUE(diff_configs(parse(a), parse(a)).empty());

  ConfigDiff e = diff_configs(parse(kBase), parse(kBase + "roaming = true\n"));
  EXPECT_EQ(e.links_changed, std::vector<std::string>{"cell1"});
  EXPECT_TRUE(e.link_field_changed("cell1", "extension"));
  EXPECT_EQ(e.summary(), "links: ~cell1(extension)");
}

TEST(Sections, WriterAppendsSectionsMaskingSecrets) {
  Config c = parse(kBase + "apn_user = \"u\"\n" + kPolicy + "\n[testmod]\nname = \"t\"\ntoken = \"s3cret\"\n");
  std::string shown = to_toml(c);
  EXPECT_NE(shown.find("[testmod]\nname = \"t\"\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("token = \"***\""), std::string::npos) << shown;
  EXPECT_EQ(shown.find("s3cret"), std::string::npos) << shown;
  EXPECT_NE(shown.find("apn_user = \"u\"\nroaming = false\nsim.switch_after = \"2m\"\n\n[links.cell1.probe]"),
            std::string::npos)
      << shown;
  // Unmasked, the text reads back to an equal configuration.
  Config back = parse_config(to_toml(c, false), c.path, test_registry());
  EXPECT_EQ(back, c) << to_toml(c, false);
}

TEST(Sections, SecretFromFile) {
  std::string dir = ::testing::TempDir();
  std::string file = dir + "/uplink_section_test_token";
  {
    std::ofstream(file) << "from-file\n";
  }
  Config c = parse(kBase + "\n[testmod]\nname = \"t\"\ntoken = \"file:" + file + "\"\n");
  const auto& token = c.section<TestSection>("testmod")->token;
  ASSERT_TRUE(token);
  EXPECT_EQ(token->value, "from-file");
  EXPECT_EQ(token->file, file);
  EXPECT_EQ(token->to_toml(false), "\"file:" + file + "\"");
  EXPECT_EQ(token->to_toml(true), "\"***\"");
  std::remove(file.c_str());

  EXPECT_EQ(errors_of(kBase + "\n[testmod]\nname = \"t\"\ntoken = \"file:/nonexistent/token\"\n"),
            "m.toml:14:9: testmod.token: cannot read secret file /nonexistent/token: No such file or directory");
  EXPECT_EQ(errors_of(kBase + "\n[testmod]\nname = \"t\"\ntoken = \"file:relative\"\n"),
            "m.toml:14:9: testmod.token: a secret file must be an absolute path "
            "(\"file:/etc/uplinkd/secrets/NAME\"), got 'relative'");
}

TEST(Sections, RegistryRefusesProgrammingErrors) {
  SectionRegistry r;
  register_test_module(r);
  auto parse_fn = [](const toml::node&, SectionContext&) -> std::shared_ptr<const SectionValue> { return nullptr; };
  EXPECT_THROW(r.add(SectionSpec{.name = "testmod", .parse = parse_fn}), std::logic_error);
  EXPECT_THROW(r.add(SectionSpec{.name = "links", .parse = parse_fn}), std::logic_error);
  EXPECT_THROW(r.add(SectionSpec{.name = "nofn"}), std::logic_error);
  auto link_fn = [](const toml::table&, const std::string&, SectionContext&) -> std::shared_ptr<const SectionValue> {
    return nullptr;
  };
  EXPECT_THROW(r.add(LinkExtensionSpec{.kind = "cellular", .keys = {"x"}, .parse = link_fn}), std::logic_error);
  EXPECT_THROW(r.add(LinkExtensionSpec{.kind = "lte", .keys = {"x"}, .parse = link_fn}), std::logic_error);
  EXPECT_THROW(r.add(LinkExtensionSpec{.kind = "wireguard", .keys = {"apn"}, .parse = link_fn}), std::logic_error);
  r.add(LinkExtensionSpec{.kind = "wireguard", .keys = {"tunnel"}, .parse = link_fn});
  EXPECT_NE(r.find_link_extension("wireguard"), nullptr);
  EXPECT_NE(r.find("testmod"), nullptr);
  EXPECT_EQ(r.find("nothere"), nullptr);
}

TEST(Sections, AParserThatThrowsIsReportedNotPropagated) {
  SectionRegistry r;
  r.add(SectionSpec{.name = "bad", .parse = [](const toml::node&, SectionContext&) -> std::shared_ptr<const SectionValue> {
                      throw std::runtime_error("boom");
                    }});
  EXPECT_EQ(errors_of("[bad]\nx = 1\n", r), "m.toml:1:1: bad: boom");
}

}  // namespace
}  // namespace uplink
