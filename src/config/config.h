#pragma once
// The typed configuration (ARCHITECTURE.md §3). Defaults live here, in one
// place, and are documented in README "Configuration reference".
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/ip.h"
#include "config/section_value.h"

namespace uplink {

using namespace std::chrono_literals;

enum class LinkKind { ethernet, broadband, cellular, wireguard };
enum class ProbeMethod { icmp, udp, tcp, dns, http };
enum class PolicyMode { failover, balance, quality };
enum class LastResort { unreachable, blackhole, main };

struct ProbeTarget {
  IpAddress address;
  uint16_t port = 0;     // udp/tcp/dns/http: "203.0.113.1:7" (0 = method default)
  std::string original;  // as written, for messages and write-back
  friend bool operator==(const ProbeTarget&, const ProbeTarget&) = default;
};

struct ProbeConfig {
  ProbeMethod method = ProbeMethod::icmp;
  std::vector<ProbeTarget> targets;  // required, at least one
  int reliability = 1;               // targets that must answer for a round to pass (<= targets)
  Duration interval = 1s;            // steady state (metered links probe one target per steady round)
  Duration fast_interval = 100ms;    // while a change is being confirmed
  std::optional<Duration> timeout;   // nullopt = "auto" (srtt + 4*rttvar, clamped)
  int down_after = 3;
  int up_after = 5;
  std::string http_path = "/";       // http only
  std::string dns_name = ".";        // dns only: name queried (type NS)
  std::optional<IpAddress> source;   // explicit probe source address; nullopt = the link's address
  friend bool operator==(const ProbeConfig&, const ProbeConfig&) = default;
};

// up <-> degraded thresholds. A link degrades when a measure exceeds max_*,
// and recovers when it drops below max_* * recover_ratio (hysteresis).
struct QualityConfig {
  std::optional<Duration> max_latency;
  std::optional<double> max_loss;   // percent
  std::optional<Duration> max_jitter;
  double recover_ratio = 0.7;
  friend bool operator==(const QualityConfig&, const QualityConfig&) = default;
};

struct LinkConfig {
  std::string name;
  LinkKind kind = LinkKind::ethernet;
  std::string interface;
  std::optional<IpAddress> gateway;  // IPv4 next hop (an IPv6 address is accepted too); else learned
  std::optional<IpAddress> gateway6; // IPv6 next hop; else learned (kernel route); must be IPv6
  bool metered = false;              // cellular defaults to true
  bool enabled = true;               // administrative state (uplinkctl link enable/disable)
  uint32_t table = 0;                // routing table; 0 in the file = auto (100 + index), always set after load
  uint32_t fwmark = 0;               // mark for this link's flows and probes; auto like table
  ProbeConfig probe;
  std::optional<QualityConfig> quality;
  // cellular
  std::string modem;                 // "imei:...", "any", "index:N", "port:NAME"; "none": not driven by uplinkd
                                     // (a modem in router mode, a lab line: the interface is configured elsewhere)
  std::string apn;
  int sim_slot = 0;                  // 0 = leave as is
  std::vector<IpPrefix> private_routes;
  // The keys the link kind's extension claims (config/section.h LinkExtensionSpec),
  // parsed by the module that registered it; nullptr when the kind has none.
  std::shared_ptr<const SectionValue> extension;

  // The extension as the module's type; nullptr when absent or of another type.
  template <class T>
  const T* extension_as() const {
    return dynamic_cast<const T*>(extension.get());
  }
  // Written by hand: `extension` compares by SectionValue::equals. A new field must be added here.
  friend bool operator==(const LinkConfig& a, const LinkConfig& b);
};

struct PolicyMember {
  std::string link;
  int tier = 1;
  int weight = 1;
  friend bool operator==(const PolicyMember&, const PolicyMember&) = default;
};

struct PolicyConfig {
  std::string name;
  PolicyMode mode = PolicyMode::failover;
  std::vector<PolicyMember> members;
  LastResort last_resort = LastResort::unreachable;
  // `private = true`: traffic leaves only through links that reach the private
  // network (cellular private_routes, tunnels), dropped otherwise (ARCHITECTURE.md §3).
  bool is_private = false;
  friend bool operator==(const PolicyConfig&, const PolicyConfig&) = default;
};

struct PortRange {
  uint16_t first = 0, last = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct RuleConfig {
  std::string name;
  std::optional<IpPrefix> source;
  std::optional<IpPrefix> destination;
  std::optional<std::string> protocol;       // "tcp" | "udp" | "icmp" | "icmpv6"
  std::vector<PortRange> source_ports;       // needs tcp/udp
  std::vector<PortRange> destination_ports;  // needs tcp/udp
  std::optional<std::string> input_interface;
  bool local = false;                        // match router-originated traffic
  std::string policy;
  std::optional<Duration> sticky;            // keep a flow on its link while it stays usable
  bool is_catch_all() const {
    return !source && !destination && !protocol && source_ports.empty() && destination_ports.empty() &&
           !input_interface && !local;
  }
  friend bool operator==(const RuleConfig&, const RuleConfig&) = default;
};

struct DaemonConfig {
  std::string socket = "/run/uplinkd/control.sock";
  std::string socket_group;          // optional: group allowed to use the socket (read verbs)
  std::string admin_group;           // optional: group allowed to change state (root always may)
  std::string metrics_listen;        // optional "IP:PORT": Prometheus text over HTTP (off when empty)
  std::string state_dir = "/var/lib/uplinkd";
  std::string hooks_dir = "/etc/uplinkd/hooks.d";
  Duration hook_timeout = 10s;
  std::string log_level = "info";
  uint32_t table_base = 100;         // first auto table id
  uint32_t fwmark_base = 0x100;      // first auto link mark (marks use mask fwmark_mask)
  uint32_t fwmark_mask = 0xff00;
  uint32_t rule_priority_base = 10000;  // ip rule priorities uplinkd owns: [base, base+999]
  bool fail_closed = false;          // keep the private-traffic guard after a clean stop
  friend bool operator==(const DaemonConfig&, const DaemonConfig&) = default;
};

struct Config {
  std::string path;                  // the file it came from ("" if built in memory)
  DaemonConfig daemon;
  std::map<std::string, LinkConfig> links;        // by name
  std::vector<std::string> link_order;            // as written in the file
  std::map<std::string, PolicyConfig> policies;
  std::vector<std::string> policy_order;
  std::vector<RuleConfig> rules;                  // in order; first match wins
  // Module-owned top-level sections by name ("uplink", "tunnels", ...), as
  // registered in config/section.h. A section absent from the file is absent
  // here unless its spec gives an `absent` value.
  std::map<std::string, std::shared_ptr<const SectionValue>, std::less<>> sections;

  // The section as the module's type; nullptr when absent or of another type.
  template <class T>
  const T* section(std::string_view name) const {
    auto it = sections.find(name);
    return it == sections.end() ? nullptr : dynamic_cast<const T*>(it->second.get());
  }
  // Written by hand: `sections` compare by SectionValue::equals. A new field must be added here.
  friend bool operator==(const Config& a, const Config& b);
};

// One configuration problem. line/column are 1-based; 0 when the problem has
// no position (a file that cannot be read).
struct ConfigIssue {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;  // "links.wan1.probe.interval: must be greater than 0"
  // "FILE:LINE:COL: message", or "FILE: message" without a position.
  std::string to_string() const;
  friend bool operator==(const ConfigIssue&, const ConfigIssue&) = default;
};

// Loading failed: every problem found in one pass (sorted by position,
// at most kMaxConfigErrors), what() is one line per problem. file(), line(),
// column() and message() are the first problem's.
class ConfigError : public std::runtime_error {
 public:
  static constexpr size_t kMaxConfigErrors = 50;

  ConfigError(std::string file, int line, int column, std::string message);
  // `issues` must not be empty; `more` counts problems found beyond the ones listed.
  explicit ConfigError(std::vector<ConfigIssue> issues, size_t more = 0);

  const std::string& file() const { return issues_.front().file; }
  int line() const { return issues_.front().line; }
  int column() const { return issues_.front().column; }
  const std::string& message() const { return issues_.front().message; }
  const std::vector<ConfigIssue>& errors() const { return issues_; }
  size_t more() const { return more_; }

 private:
  static std::string join(const std::vector<ConfigIssue>& issues, size_t more);
  std::vector<ConfigIssue> issues_;
  size_t more_ = 0;
};

std::string_view to_string(LinkKind k);
std::string_view to_string(ProbeMethod m);
std::string_view to_string(PolicyMode m);
std::string_view to_string(LastResort r);

// The inverse of to_string(); nullopt for an unknown name.
std::optional<LinkKind> parse_link_kind(std::string_view s);
std::optional<ProbeMethod> parse_probe_method(std::string_view s);
std::optional<PolicyMode> parse_policy_mode(std::string_view s);
std::optional<LastResort> parse_last_resort(std::string_view s);
// "a | b | c": the valid names, for error messages and --help.
std::string valid_names_link_kind();
std::string valid_names_probe_method();
std::string valid_names_policy_mode();
std::string valid_names_last_resort();

// Port probed when a target names none: udp 7 (echo), tcp 80, dns 53, http 80; icmp 0.
uint16_t default_probe_port(ProbeMethod m);

}  // namespace uplink
