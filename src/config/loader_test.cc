// Bad configurations: each must fail with the exact FILE:LINE:COL and message.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace uplink {
namespace {

// Lines 1..6 of most cases; what a case appends starts at line 7, still inside
// [links.wan1.probe].
const std::string kLink = R"([links.wan1]
kind = "ethernet"
interface = "eth1"

[links.wan1.probe]
targets = ["203.0.113.1"]
)";

// Lines 7..9: a policy over wan1. Appended text starts at line 10, inside it.
const std::string kPolicy = R"(
[policies.default]
members = [{ link = "wan1" }]
)";

struct BadCase {
  std::string name;
  std::string text;
  int line;
  int column;
  std::string message;
};

std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.name; }

class BadConfig : public ::testing::TestWithParam<BadCase> {};

// Every error of the file is reported at once: the case's error must be one
// of them, at its exact position (the fragments are often incomplete
// configurations, so other errors may come with it).
TEST_P(BadConfig, FailsAtExactPositionWithMessage) {
  const BadCase& c = GetParam();
  try {
    parse_config(c.text, "bad.toml");
    FAIL() << "expected a ConfigError for:\n" << c.text;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "bad.toml");
    const ConfigIssue* found = nullptr;
    for (const auto& i : e.errors()) {
      if (i.message == c.message) found = &i;
    }
    ASSERT_NE(found, nullptr) << "missing: " << c.message << "\ngot:\n" << e.what();
    EXPECT_EQ(found->file, "bad.toml");
    EXPECT_EQ(found->line, c.line) << e.what();
    EXPECT_EQ(found->column, c.column) << e.what();
    std::string line = "bad.toml:" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": " + c.message;
    EXPECT_NE(std::string(e.what()).find(line), std::string::npos) << e.what();
  }
}

const BadCase kBadCases[] = {
    // ---- TOML syntax: toml++'s own position and words ----
    {"syntax_unterminated_string", "[daemon]\nlog_level = \"info\n", 2, 18,
     "daemon.log_level: syntax error in [daemon]: Error while parsing string: unescaped control characters other than TAB (U+0009) are explicitly prohibited"},
    {"syntax_unclosed_header", "[links.wan1\nkind = 1\n", 1, 12,
     "syntax error in a table header: Error while parsing table header: expected ']', saw '\\n'"},
    {"syntax_duplicate_key", "[daemon]\nlog_level = \"a\"\nlog_level = \"b\"\n", 3, 13,
     "daemon.log_level: syntax error in [daemon]: Error while parsing key-value pair: cannot redefine existing string "
     "'log_level'"},

    // ---- unknown keys, with a suggestion when one is close ----
    {"unknown_section", "[daemonn]\nlog_level = \"info\"\n", 1, 2, "daemonn: unknown key (did you mean 'daemon'?)"},
    {"unknown_probe_key_typo", kLink + "intervall = \"1s\"\n", 7, 1,
     "links.wan1.probe.intervall: unknown key (did you mean 'interval'?)"},
    {"unknown_probe_key_swap", kLink + "intreval = \"1s\"\n", 7, 1,
     "links.wan1.probe.intreval: unknown key (did you mean 'interval'?)"},
    {"unknown_link_key_no_hint", "[links.wan1]\ninterface = \"eth1\"\ncolour = \"red\"\n", 3, 1,
     "links.wan1.colour: unknown key (known keys: kind, interface, gateway, gateway6, metered, enabled, table, fwmark, "
     "probe, quality, modem, apn, sim_slot, private_routes)"},
    {"unknown_daemon_key", "[daemon]\nloglevel = \"info\"\n", 2, 1,
     "daemon.loglevel: unknown key (did you mean 'log_level'?)"},
    {"unknown_member_key", kLink + "\n[policies.default]\nmembers = [{ link = \"wan1\", wieght = 2 }]\n", 9, 29,
     "policies.default.members[0].wieght: unknown key (did you mean 'weight'?)"},
    {"unknown_rule_key", kLink + kPolicy + "\n[[rules]]\nname = \"lan\"\nsrc = \"10.0.0.0/8\"\npolicy = \"default\"\n",
     13, 1, "rules[0].src: unknown key (did you mean 'source'?)"},
    {"unknown_rule_key_abbreviation",
     kLink + kPolicy + "\n[[rules]]\nname = \"lan\"\ndst_port = 80\npolicy = \"default\"\n", 13, 1,
     "rules[0].dst_port: unknown key (did you mean 'destination_port'?)"},

    // ---- wrong types ----
    {"type_bool_as_string", "[links.wan1]\ninterface = \"eth1\"\nmetered = \"yes\"\n", 3, 11,
     "links.wan1.metered: expected a boolean (true or false), got a string"},
    {"type_duration_as_int", kLink + "interval = 10\n", 7, 12,
     "links.wan1.probe.interval: expected a duration string such as \"100ms\", got an integer"},
    {"type_targets_as_string", "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = \"203.0.113.1\"\n", 4,
     11, "links.wan1.probe.targets: expected an array, got a string"},
    {"type_link_not_table", "[links]\nwan1 = 5\n", 2, 8, "links.wan1: expected a table, got an integer"},
    {"type_rules_as_table", kLink + kPolicy + "\n[rules]\nname = \"x\"\n", 11, 1,
     "rules: expected an array, got a table"},
    {"type_max_loss_string", kLink + "\n[links.wan1.quality]\nmax_loss = \"5%\"\n", 9, 12,
     "links.wan1.quality.max_loss: expected a number, got a string"},
    {"type_member_not_table", kLink + "\n[policies.default]\nmembers = [\"wan1\"]\n", 9, 12,
     "policies.default.members[0]: expected a table {link = \"NAME\", tier = N, weight = N}, got a string"},

    // ---- bad duration / address / CIDR / port ----
    {"duration_unknown_unit", kLink + "interval = \"10 parsecs\"\n", 7, 12,
     "links.wan1.probe.interval: invalid duration '10 parsecs': unknown unit 'parsecs' (ns, us, ms, s, m, h, d)"},
    {"duration_missing_unit", kLink + "interval = \"10\"\n", 7, 12,
     "links.wan1.probe.interval: invalid duration '10': missing unit (ns, us, ms, s, m, h, d)"},
    {"duration_zero", kLink + "interval = \"0s\"\n", 7, 12, "links.wan1.probe.interval: must be greater than 0"},
    {"timeout_not_auto", kLink + "timeout = \"fast\"\n", 7, 11,
     "links.wan1.probe.timeout: invalid duration 'fast': expected a number with a unit, e.g. \"100ms\""},
    {"gateway_bad", "[links.wan1]\ninterface = \"eth1\"\ngateway = \"198.18.1.300\"\n", 3, 11,
     "links.wan1.gateway: invalid IP address '198.18.1.300'"},
    {"gateway6_v4", "[links.wan1]\ninterface = \"eth1\"\ngateway6 = \"198.18.1.1\"\n", 3, 12,
     "links.wan1.gateway6: '198.18.1.1' is not an IPv6 address (IPv4: use 'gateway')"},
    {"gateway6_bad", "[links.wan1]\ninterface = \"eth1\"\ngateway6 = \"2001:db8::g\"\n", 3, 12,
     "links.wan1.gateway6: invalid IP address '2001:db8::g'"},
    {"gateway6_twice", "[links.wan1]\ninterface = \"eth1\"\ngateway = \"2001:db8::1\"\ngateway6 = \"2001:db8::2\"\n", 4,
     12, "links.wan1.gateway6: gateway is already an IPv6 address; set the IPv6 next hop in one of them"},
    {"target_hostname", "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = [\"example.com\"]\n", 4, 12,
     "links.wan1.probe.targets[0]: invalid probe target 'example.com': not an IP address (hostnames are not resolved)"},
    {"target_port_zero",
     "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\nmethod = \"udp\"\ntargets = [\"203.0.113.1:0\"]\n", 5, 12,
     "links.wan1.probe.targets[0]: invalid probe target '203.0.113.1:0': port must be 1..65535"},
    {"target_icmp_with_port",
     "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = [\"203.0.113.1\", \"203.0.113.2:7\"]\n", 4, 27,
     "links.wan1.probe.targets[1]: icmp probes take no port ('203.0.113.2:7')"},
    {"target_duplicate",
     "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = [\"2001:db8::1\", \"2001:db8:0::1\"]\n", 4, 27,
     "links.wan1.probe.targets[1]: duplicate probe target '2001:db8:0::1' (same as targets[0])"},
    {"private_route_host_bits",
     "[links.cell1]\nkind = \"cellular\"\ninterface = \"wwan0\"\nprivate_routes = [\"10.200.0.1/16\"]\n", 4, 19,
     "links.cell1.private_routes[0]: invalid prefix '10.200.0.1/16': host bits set (did you mean a network address?)"},
    {"rule_source_bad_cidr", kLink + kPolicy + "\n[[rules]]\nname = \"lan\"\nsource = \"192.168.50.0/33\"\npolicy = \"default\"\n",
     13, 10, "rules[0].source: invalid prefix '192.168.50.0/33': length must be 0..32"},
    {"port_range_reversed",
     kLink + kPolicy + "\n[[rules]]\nname = \"web\"\nprotocol = \"tcp\"\ndestination_port = \"8100-8000\"\npolicy = \"default\"\n",
     14, 20, "rules[0].destination_port: invalid port range '8100-8000': first port is above the last"},
    {"port_out_of_range",
     kLink + kPolicy + "\n[[rules]]\nname = \"web\"\nprotocol = \"udp\"\nsource_port = [53, 70000]\npolicy = \"default\"\n",
     14, 20, "rules[0].source_port[1]: must be at most 65535, got 70000"},
    {"interface_too_long", "[links.wan1]\ninterface = \"averyveryverylongname\"\n", 2, 13,
     "links.wan1.interface: invalid interface name 'averyveryverylongname' (1..15 characters, no '/', ':' or spaces)"},
    {"modem_selector_bad", "[links.cell1]\nkind = \"cellular\"\ninterface = \"wwan0\"\nmodem = \"imei:12\"\n", 4, 9,
     "links.cell1.modem: invalid modem selector 'imei:12' (expected \"any\", \"imei:NUMBER\", \"index:N\", \"port:NAME\" or \"none\")"},

    // ---- impossible values ----
    {"reliability_above_targets", kLink + "reliability = 2\n", 7, 15,
     "links.wan1.probe.reliability: 2 exceeds the number of targets (1)"},
    {"reliability_zero", kLink + "reliability = 0\n", 7, 15, "links.wan1.probe.reliability: must be at least 1, got 0"},
    {"down_after_zero", kLink + "down_after = 0\n", 7, 14, "links.wan1.probe.down_after: must be at least 1, got 0"},
    {"fast_interval_above_interval", kLink + "interval = \"1s\"\nfast_interval = \"2s\"\n", 8, 17,
     "links.wan1.probe.fast_interval: 2s is longer than interval (1s)"},
    {"max_loss_above_100", kLink + "\n[links.wan1.quality]\nmax_loss = 150\n", 9, 12,
     "links.wan1.quality.max_loss: a percentage must be within 0..100"},
    {"max_loss_negative", kLink + "\n[links.wan1.quality]\nmax_loss = -0.5\n", 9, 12,
     "links.wan1.quality.max_loss: a percentage must be within 0..100"},
    {"recover_ratio_zero", kLink + "\n[links.wan1.quality]\nmax_loss = 5\nrecover_ratio = 0\n", 10, 17,
     "links.wan1.quality.recover_ratio: must be within (0, 1]"},
    {"recover_ratio_above_one", kLink + "\n[links.wan1.quality]\nmax_loss = 5\nrecover_ratio = 1.5\n", 10, 17,
     "links.wan1.quality.recover_ratio: must be within (0, 1]"},
    {"quality_without_threshold", kLink + "\n[links.wan1.quality]\nrecover_ratio = 0.5\n", 8, 1,
     "links.wan1.quality: set at least one of max_latency, max_loss, max_jitter"},
    {"weight_negative", kLink + "\n[policies.default]\nmembers = [{ link = \"wan1\", weight = -1 }]\n", 9, 38,
     "policies.default.members[0].weight: must be at least 1, got -1"},
    {"tier_zero", kLink + "\n[policies.default]\nmembers = [{ link = \"wan1\", tier = 0 }]\n", 9, 36,
     "policies.default.members[0].tier: must be at least 1, got 0"},
    {"table_reserved", "[links.wan1]\ninterface = \"eth1\"\ntable = 254\n", 3, 9,
     "links.wan1.table: table 254 is reserved by the kernel (253 default, 254 main, 255 local)"},
    {"rule_priority_base_too_high", "[daemon]\nrule_priority_base = 32000\n", 2, 22,
     "daemon.rule_priority_base: must be at most 31766, got 32000"},
    {"members_empty", kLink + "\n[policies.default]\nmembers = []\n", 9, 11,
     "policies.default.members: must not be empty"},

    // ---- cross references ----
    {"policy_missing_link", kLink + "\n[policies.default]\nmembers = [{ link = \"wan1\" }, { link = \"wan2\" }]\n", 9, 40,
     "policies.default.members[1].link: link 'wan2' does not exist (defined links: wan1)"},
    {"private_member_public_line", kLink + "\n[policies.private]\nprivate = true\nmembers = [{ link = \"wan1\" }]\n", 10, 21,
     "policies.private.members[0].link: link 'wan1' cannot reach the private network (policy is private = true): "
     "members must be tunnels (kind = \"wireguard\") or cellular links with private_routes"},
    {"member_listed_twice", kLink + "\n[policies.default]\nmembers = [{ link = \"wan1\" }, { link = \"wan1\", tier = 2 }]\n",
     9, 40, "policies.default.members[1].link: link 'wan1' is listed twice (also members[0])"},
    {"rule_missing_policy", kLink + kPolicy + "\n[[rules]]\nname = \"lan\"\npolicy = \"backup\"\n", 13, 10,
     "rules[0].policy: policy 'backup' does not exist (defined policies: default)"},
    {"rule_without_policy", kLink + kPolicy + "\n[[rules]]\nname = \"lan\"\n", 11, 1,
     "rules[0]: missing required key 'policy'"},
    {"rule_after_catch_all",
     kLink + kPolicy +
         "\n[[rules]]\nname = \"all\"\npolicy = \"default\"\n\n[[rules]]\nname = \"lan\"\nsource = \"10.0.0.0/8\"\npolicy = "
         "\"default\"\n",
     15, 1, "rules[1]: unreachable: rule 'lan' follows catch-all rule 'all' at line 11"},
    {"rule_duplicate_name",
     kLink + kPolicy +
         "\n[[rules]]\nname = \"lan\"\nsource = \"10.0.0.0/8\"\npolicy = \"default\"\n\n[[rules]]\nname = \"lan\"\npolicy = "
         "\"default\"\n",
     17, 8, "rules[1].name: duplicate rule name 'lan' (first used by rules[0] at line 11)"},
    {"two_links_one_interface",
     kLink + "\n[links.wan2]\ninterface = \"eth1\"\n[links.wan2.probe]\ntargets = [\"203.0.113.2\"]\n", 9, 13,
     "links.wan2.interface: interface 'eth1' is already used by link 'wan1'"},
    {"table_clash",
     "[links.wan1]\ninterface = \"eth1\"\ntable = 120\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n"
     "[links.wan2]\ninterface = \"eth2\"\ntable = 120\n[links.wan2.probe]\ntargets = [\"203.0.113.1\"]\n",
     8, 9, "links.wan2.table: table 120 is already used by link 'wan1'"},
    {"fwmark_clash",
     "[links.wan1]\ninterface = \"eth1\"\nfwmark = 0x200\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n"
     "[links.wan2]\ninterface = \"eth2\"\nfwmark = 0x200\n[links.wan2.probe]\ntargets = [\"203.0.113.1\"]\n",
     8, 10, "links.wan2.fwmark: fwmark 0x200 is already used by link 'wan1'"},
    {"fwmark_outside_mask",
     "[links.wan1]\ninterface = \"eth1\"\nfwmark = 0x10001\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n", 3, 10,
     "links.wan1.fwmark: 0x10001 is outside daemon.fwmark_mask 0xff00"},
    {"fwmark_mask_not_contiguous", "[daemon]\nfwmark_mask = 0xf0f0\n", 2, 15,
     "daemon.fwmark_mask: 0xf0f0 is not one contiguous run of bits"},
    {"fwmark_mask_too_narrow", "[daemon]\nfwmark_mask = 0x300\nfwmark_base = 0x100\n", 2, 15,
     "daemon.fwmark_mask: daemon.fwmark_mask 0x300 needs at least 3 bits (sticky bit + link marks)"},
    {"fwmark_is_the_sticky_bit",
     "[links.wan1]\ninterface = \"eth1\"\nfwmark = 0x8000\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n", 3, 10,
     "links.wan1.fwmark: 0x8000 has bits outside the link bits 0x7f00 of daemon.fwmark_mask"},
    {"fwmark_reserved_for_last_resort",
     "[links.wan1]\ninterface = \"eth1\"\nfwmark = 0x7e00\n[links.wan1.probe]\ntargets = [\"203.0.113.1\"]\n", 3, 10,
     "links.wan1.fwmark: 0x7e00 is reserved for last_resort (0x7f00, 0x7e00)"},

    // ---- missing things ----
    {"link_without_probe", "[links.wan1]\ninterface = \"eth1\"\n", 1, 1,
     "links.wan1: missing [links.wan1.probe] with targets (every link needs probe targets)"},
    {"probe_without_targets", "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\nmethod = \"udp\"\n", 3, 1,
     "links.wan1.probe: missing required key 'targets' (every link needs probe targets)"},
    {"probe_targets_empty", "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\ntargets = []\n", 4, 11,
     "links.wan1.probe.targets: must not be empty"},
    {"link_without_interface", "[links.wan1]\nkind = \"ethernet\"\n", 1, 1,
     "links.wan1: missing required key 'interface'"},
    {"rule_without_name", kLink + kPolicy + "\n[[rules]]\npolicy = \"default\"\n", 11, 1,
     "rules[0]: missing required key 'name'"},

    // ---- unknown enum values list the valid ones ----
    {"unknown_kind", "[links.wan1]\nkind = \"lte\"\ninterface = \"eth1\"\n", 2, 8,
     "links.wan1.kind: unknown kind 'lte' (valid: ethernet | broadband | cellular | wireguard)"},
    {"unknown_method", kLink + "method = \"ping\"\n", 7, 10,
     "links.wan1.probe.method: unknown method 'ping' (valid: icmp | udp | tcp | dns | http)"},
    {"unknown_mode", kLink + kPolicy + "mode = \"random\"\n", 10, 8,
     "policies.default.mode: unknown mode 'random' (valid: failover | balance | quality)"},
    {"unknown_last_resort", kLink + kPolicy + "last_resort = \"drop\"\n", 10, 15,
     "policies.default.last_resort: unknown last_resort 'drop' (valid: unreachable | blackhole | main)"},
    {"unknown_protocol", kLink + kPolicy + "\n[[rules]]\nname = \"x\"\nprotocol = \"sctp\"\npolicy = \"default\"\n", 13, 12,
     "rules[0].protocol: unknown protocol 'sctp' (valid: tcp | udp | icmp | icmpv6)"},
    {"invalid_log_level", "[daemon]\nlog_level = \"verbose\"\n", 2, 13,
     "daemon.log_level: invalid log level 'verbose' (trace | debug | info | warn | error | critical | off)"},

    // ---- keys that would be silently meaningless ----
    {"apn_on_ethernet", "[links.wan1]\ninterface = \"eth1\"\napn = \"internet\"\n", 3, 1,
     "links.wan1.apn: only cellular links take 'apn' (kind is 'ethernet')"},
    {"sim_slot_on_broadband", "[links.dsl]\nkind = \"broadband\"\ninterface = \"ppp0\"\nsim_slot = 1\n", 4, 1,
     "links.dsl.sim_slot: only cellular links take 'sim_slot' (kind is 'broadband')"},
    {"ports_without_protocol", kLink + kPolicy + "\n[[rules]]\nname = \"web\"\ndestination_port = 443\npolicy = \"default\"\n",
     13, 20, "rules[0].destination_port: ports need protocol = \"tcp\" or \"udp\""},
    {"ports_with_icmp",
     kLink + kPolicy + "\n[[rules]]\nname = \"web\"\nprotocol = \"icmp\"\nsource_port = 1\npolicy = \"default\"\n", 14, 15,
     "rules[0].source_port: ports need protocol = \"tcp\" or \"udp\""},
    {"http_path_with_icmp", kLink + "http_path = \"/health\"\n", 7, 13,
     "links.wan1.probe.http_path: only used with method = \"http\""},
    {"dns_name_with_udp", kLink + "method = \"udp\"\ndns_name = \"example.com\"\n", 8, 12,
     "links.wan1.probe.dns_name: only used with method = \"dns\""},
    {"local_and_input_interface",
     kLink + kPolicy + "\n[[rules]]\nname = \"x\"\ninput_interface = \"lan0\"\nlocal = true\npolicy = \"default\"\n", 14, 9,
     "rules[0].local: router-originated traffic has no input interface: set local or input_interface, not both"},
    {"rule_family_mismatch",
     kLink + kPolicy +
         "\n[[rules]]\nname = \"x\"\nsource = \"10.0.0.0/8\"\ndestination = \"2001:db8::/32\"\npolicy = \"default\"\n",
     14, 15, "rules[0].destination: source and destination are of different address families"},
    {"relative_socket_path", "[daemon]\nsocket = \"run/uplinkd.sock\"\n", 2, 10,
     "daemon.socket: must be an absolute path, got 'run/uplinkd.sock'"},
    {"nul_in_path", "[daemon]\nstate_dir = \"/var/lib\\u0000x\"\n", 2, 13,
     "daemon.state_dir: must not contain a NUL character"},
    {"invalid_link_name", "[links.\"wan 1\"]\ninterface = \"eth1\"\n", 1, 8,
     "links.wan 1: invalid link name (1..32 letters, digits, '_' or '-')"},
    {"metrics_listen_without_port", "[daemon]\nmetrics_listen = \"127.0.0.1\"\n", 2, 18,
     "daemon.metrics_listen: '127.0.0.1' has no port (IP:PORT, e.g. \"127.0.0.1:9109\")"},
    {"metrics_listen_hostname", "[daemon]\nmetrics_listen = \"localhost:9109\"\n", 2, 18,
     "daemon.metrics_listen: 'localhost:9109' is not a numeric address (IP:PORT, e.g. \"127.0.0.1:9109\")"},
    {"admin_group_not_a_string", "[daemon]\nadmin_group = 0\n", 2, 15, "daemon.admin_group: expected a string, got an integer"},
};

INSTANTIATE_TEST_SUITE_P(Loader, BadConfig, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

TEST(Loader, MissingFileNamesPathAndReason) {
  try {
    load_config_file("/nonexistent/uplinkd.toml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "/nonexistent/uplinkd.toml");
    EXPECT_EQ(e.line(), 0);
    EXPECT_EQ(e.column(), 0);
    EXPECT_EQ(e.message(), "cannot read: No such file or directory");
  }
}

TEST(Loader, ColumnsCountCharactersNotBytes) {
  // "é" is two bytes; toml++ and our messages count it as one column.
  try {
    parse_config("[daemon]\nsocket_group = \"é\"\nlog_level = 3\n", "u.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.column(), 13);
  }
}

TEST(Loader, ReportsTheFirstErrorInFileOrder) {
  // Two unknown keys: the one written first is reported, not the alphabetically first.
  try {
    parse_config(kLink + "zzz = 1\naaa = 2\n", "u.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 7);
    EXPECT_EQ(e.message().substr(0, 26), "links.wan1.probe.zzz: unkn");
  }
}

TEST(Loader, ProbeTargetForms) {
  Config c = parse_config(
      "[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\nmethod = \"udp\"\n"
      "targets = [\"203.0.113.1\", \"2001:db8::1\", \"203.0.113.1:9\", \"[2001:db8::1]:53\"]\n",
      "t.toml");
  const auto& t = c.links.at("wan1").probe.targets;
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].address.to_string(), "203.0.113.1");
  EXPECT_EQ(t[0].port, 7);  // udp default: echo
  EXPECT_TRUE(t[1].address.is_v6());
  EXPECT_EQ(t[1].port, 7);
  EXPECT_EQ(t[2].port, 9);
  EXPECT_EQ(t[3].address.to_string(), "2001:db8::1");
  EXPECT_EQ(t[3].port, 53);
  EXPECT_EQ(t[3].original, "[2001:db8::1]:53");
}

TEST(Loader, RejectsBracketedIpv4Target) {
  EXPECT_THROW(parse_config("[links.wan1]\ninterface = \"eth1\"\n[links.wan1.probe]\nmethod = \"udp\"\n"
                            "targets = [\"[203.0.113.1]:7\"]\n",
                            "t.toml"),
               ConfigError);
}

TEST(Loader, RulePortForms) {
  Config c = parse_config(kLink + kPolicy +
                              "\n[[rules]]\nname = \"web\"\nprotocol = \"tcp\"\ndestination_port = [80, \"443\", "
                              "\"8000-8100\"]\nsource_port = 1024\npolicy = \"default\"\n",
                          "t.toml");
  const RuleConfig& r = c.rules.at(0);
  ASSERT_EQ(r.destination_ports.size(), 3u);
  EXPECT_EQ(r.destination_ports[0].first, 80);
  EXPECT_EQ(r.destination_ports[0].last, 80);
  EXPECT_EQ(r.destination_ports[1].first, 443);
  EXPECT_EQ(r.destination_ports[2].first, 8000);
  EXPECT_EQ(r.destination_ports[2].last, 8100);
  ASSERT_EQ(r.source_ports.size(), 1u);
  EXPECT_EQ(r.source_ports[0].first, 1024);
  EXPECT_FALSE(r.is_catch_all());
}

TEST(Loader, DottedKeysAndInlineTablesAreTheSameConfig) {
  Config a = parse_config(kLink + "interval = \"2s\"\n", "t.toml");
  Config b = parse_config(
      "[links.wan1]\nkind = \"ethernet\"\ninterface = \"eth1\"\nprobe.targets = [\"203.0.113.1\"]\nprobe.interval = \"2s\"\n",
      "t.toml");
  Config c = parse_config(
      "links.wan1 = { interface = \"eth1\", probe = { targets = [\"203.0.113.1\"], interval = \"2s\" } }\n", "t.toml");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

TEST(Loader, TimeoutAutoAndDuration) {
  EXPECT_FALSE(parse_config(kLink + "timeout = \"auto\"\n", "t").links.at("wan1").probe.timeout.has_value());
  EXPECT_EQ(parse_config(kLink + "timeout = \"250ms\"\n", "t").links.at("wan1").probe.timeout, Duration(250ms));
}

}  // namespace
}  // namespace uplink
