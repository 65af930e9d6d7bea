#pragma once
// The typed configuration (ARCHITECTURE.md §3). Defaults live here, in one
// place, and are documented in README "Configuration reference".
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/ip.h"

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
  std::string modem;                 // "imei:...", "any", "index:N", "port:NAME"
  std::string apn;
  int sim_slot = 0;                  // 0 = leave as is
  std::vector<IpPrefix> private_routes;
  friend bool operator==(const LinkConfig&, const LinkConfig&) = default;
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
  std::string socket_group;          // optional: group allowed to use the socket
  std::string state_dir = "/var/lib/uplinkd";
  std::string hooks_dir = "/etc/uplinkd/hooks.d";
  Duration hook_timeout = 10s;
  std::string log_level = "info";
  uint32_t table_base = 100;         // first auto table id
  uint32_t fwmark_base = 0x100;      // first auto link mark (marks use mask fwmark_mask)
  uint32_t fwmark_mask = 0xff00;
  uint32_t rule_priority_base = 10000;  // ip rule priorities uplinkd owns: [base, base+999]
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
  friend bool operator==(const Config&, const Config&) = default;
};

// A configuration error at a position in a file: "FILE:LINE:COL: message".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, int column, std::string message)
      : std::runtime_error(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message),
        file_(std::move(file)), line_(line), column_(column), message_(std::move(message)) {}
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_, column_;
  std::string message_;
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
