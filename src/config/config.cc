#include "config/config.h"

#include <array>
#include <utility>

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
