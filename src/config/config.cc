#include "config/config.h"

#include <array>
#include <utility>

#include "config/toml_text.h"

namespace uplink {

namespace {

// One name table per enum: to_string, parse_* and the "valid names" lists all
// come from it, so a new value cannot be spelled differently in two places.
template <class E, size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<LinkKind, 4> kLinkKinds{{{LinkKind::ethernet, "ethernet"},
                                         {LinkKind::broadband, "broadband"},
                                         {LinkKind::cellular, "cellular"},
                                         {LinkKind::wireguard, "wireguard"}}};
constexpr Names<ProbeMethod, 5> kProbeMethods{{{ProbeMethod::icmp, "icmp"},
                                               {ProbeMethod::udp, "udp"},
                                               {ProbeMethod::tcp, "tcp"},
                                               {ProbeMethod::dns, "dns"},
                                               {ProbeMethod::http, "http"}}};
constexpr Names<PolicyMode, 3> kPolicyModes{
    {{PolicyMode::failover, "failover"}, {PolicyMode::balance, "balance"}, {PolicyMode::quality, "quality"}}};
constexpr Names<LastResort, 3> kLastResorts{{{LastResort::unreachable, "unreachable"},
                                             {LastResort::blackhole, "blackhole"},
                                             {LastResort::main, "main"}}};

template <class E, size_t N>
std::string_view name_of(const Names<E, N>& names, E e) {
  for (const auto& [v, n] : names) {
    if (v == e) return n;
  }
  return "?";
}

template <class E, size_t N>
std::optional<E> value_of(const Names<E, N>& names, std::string_view s) {
  for (const auto& [v, n] : names) {
    if (n == s) return v;
  }
  return std::nullopt;
}

template <class E, size_t N>
std::string list_of(const Names<E, N>& names) {
  std::string out;
  for (const auto& [v, n] : names) {
    if (!out.empty()) out += " | ";
    out += n;
  }
  return out;
}

}  // namespace

std::string_view to_string(LinkKind k) { return name_of(kLinkKinds, k); }
std::string_view to_string(ProbeMethod m) { return name_of(kProbeMethods, m); }
std::string_view to_string(PolicyMode m) { return name_of(kPolicyModes, m); }
std::string_view to_string(LastResort r) { return name_of(kLastResorts, r); }

std::optional<LinkKind> parse_link_kind(std::string_view s) { return value_of(kLinkKinds, s); }
std::optional<ProbeMethod> parse_probe_method(std::string_view s) { return value_of(kProbeMethods, s); }
std::optional<PolicyMode> parse_policy_mode(std::string_view s) { return value_of(kPolicyModes, s); }
std::optional<LastResort> parse_last_resort(std::string_view s) { return value_of(kLastResorts, s); }

std::string valid_names_link_kind() { return list_of(kLinkKinds); }
std::string valid_names_probe_method() { return list_of(kProbeMethods); }
std::string valid_names_policy_mode() { return list_of(kPolicyModes); }
std::string valid_names_last_resort() { return list_of(kLastResorts); }

uint16_t default_probe_port(ProbeMethod m) {
  switch (m) {
    case ProbeMethod::icmp: return 0;
    case ProbeMethod::udp: return 7;
    case ProbeMethod::tcp: return 80;
    case ProbeMethod::dns: return 53;
    case ProbeMethod::http: return 80;
  }
  return 0;
}

}  // namespace uplink

namespace uplink {

bool same_section(const std::shared_ptr<const SectionValue>& a, const std::shared_ptr<const SectionValue>& b) {
  if (!a || !b) return !a && !b;
  return a == b || a->equals(*b);
}

bool operator==(const LinkConfig& a, const LinkConfig& b) {
  return a.name == b.name && a.kind == b.kind && a.interface == b.interface && a.gateway == b.gateway &&
         a.gateway6 == b.gateway6 && a.metered == b.metered && a.enabled == b.enabled && a.table == b.table &&
         a.fwmark == b.fwmark && a.probe == b.probe && a.quality == b.quality && a.modem == b.modem &&
         a.apn == b.apn && a.sim_slot == b.sim_slot && a.private_routes == b.private_routes &&
         same_section(a.extension, b.extension);
}

bool operator==(const Config& a, const Config& b) {
  if (!(a.path == b.path && a.daemon == b.daemon && a.links == b.links && a.link_order == b.link_order &&
        a.policies == b.policies && a.policy_order == b.policy_order && a.rules == b.rules &&
        a.sections.size() == b.sections.size())) {
    return false;
  }
  for (auto ia = a.sections.begin(), ib = b.sections.begin(); ia != a.sections.end(); ++ia, ++ib) {
    if (ia->first != ib->first || !same_section(ia->second, ib->second)) return false;
  }
  return true;
}

std::string ConfigIssue::to_string() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

ConfigError::ConfigError(std::string file, int line, int column, std::string message)
    : ConfigError(std::vector<ConfigIssue>{{std::move(file), line, column, std::move(message)}}) {}

ConfigError::ConfigError(std::vector<ConfigIssue> issues, size_t more)
    : std::runtime_error(join(issues, more)), issues_(std::move(issues)), more_(more) {
  if (issues_.empty()) issues_.push_back({"", 0, 0, "invalid configuration"});
}

std::string ConfigError::join(const std::vector<ConfigIssue>& issues, size_t more) {
  std::string out;
  for (const auto& i : issues) out += (out.empty() ? "" : "\n") + i.to_string();
  if (issues.empty()) out = "invalid configuration";
  if (more > 0) {
    out += "\n" + (issues.empty() ? std::string() : issues.front().file + ": ") + std::to_string(more) +
           " more error" + (more == 1 ? "" : "s") + " not shown (at most " + std::to_string(kMaxConfigErrors) +
           " are listed)";
  }
  return out;
}

std::string Secret::to_toml(bool mask) const {
  if (mask) return "\"***\"";
  return toml_quote(file ? "file:" + *file : value);
}

}  // namespace uplink
