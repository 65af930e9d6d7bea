#include "config/schema.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace uplink {

namespace {

using K = ValueKind;

// Root keys of the core; module sections (config/section.h) come on top.
constexpr KeySpec kRoot[] = {
    {"daemon", K::table}, {"links", K::table}, {"policies", K::table}, {"rules", K::table_array}};

constexpr KeySpec kDaemon[] = {
    {"socket", K::string},        {"socket_group", K::string},  {"state_dir", K::string},
    {"hooks_dir", K::string},     {"hook_timeout", K::duration}, {"log_level", K::string},
    {"table_base", K::integer},   {"fwmark_base", K::integer},  {"fwmark_mask", K::integer},
    {"rule_priority_base", K::integer}, {"fail_closed", K::boolean}, {"admin_group", K::string},
    {"metrics_listen", K::string}};

constexpr KeySpec kLink[] = {
    {"kind", K::string},          {"interface", K::string}, {"gateway", K::string},
    {"gateway6", K::string},
    {"metered", K::boolean},      {"enabled", K::boolean},  {"table", K::integer},
    {"fwmark", K::integer},       {"probe", K::table},      {"quality", K::table},
    {"modem", K::string},         {"apn", K::string},       {"sim_slot", K::integer},
    {"private_routes", K::string_list}};

constexpr KeySpec kProbe[] = {
    {"method", K::string},          {"targets", K::string_list},   {"reliability", K::integer},
    {"interval", K::duration},      {"fast_interval", K::duration}, {"timeout", K::duration_or_auto},
    {"down_after", K::integer},     {"up_after", K::integer},      {"http_path", K::string},
    {"dns_name", K::string},        {"source", K::string}};

constexpr KeySpec kQuality[] = {
    {"max_latency", K::duration}, {"max_loss", K::number}, {"max_jitter", K::duration}, {"recover_ratio", K::number}};

constexpr KeySpec kPolicy[] = {
    {"mode", K::string}, {"members", K::members}, {"last_resort", K::string}, {"private", K::boolean}};

constexpr KeySpec kMember[] = {{"link", K::string}, {"tier", K::integer}, {"weight", K::integer}};

constexpr KeySpec kRule[] = {
    {"name", K::string},          {"source", K::string},          {"destination", K::string},
    {"protocol", K::string},      {"source_port", K::port_list},  {"destination_port", K::port_list},
    {"input_interface", K::string}, {"local", K::boolean},        {"policy", K::string},
    {"sticky", K::duration}};

// Optimal string alignment distance: insert, delete, substitute, and swap of
// two neighbours ("intreval") each count as one edit.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::span<const KeySpec> keys_of(Section s) {
  switch (s) {
    case Section::root: return kRoot;
    case Section::daemon: return kDaemon;
    case Section::link: return kLink;
    case Section::probe: return kProbe;
    case Section::quality: return kQuality;
    case Section::policy: return kPolicy;
    case Section::member: return kMember;
    case Section::rule: return kRule;
  }
  return {};
}

const KeySpec* find_key(Section s, std::string_view key) {
  for (const auto& k : keys_of(s)) {
    if (k.name == key) return &k;
  }
  return nullptr;
}

namespace {

// The closest of `names` to `unknown` when it is close enough to be a typo or an abbreviation, else "".
std::string closest_name(std::string_view unknown, std::span<const std::string_view> names) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (auto name : names) {
    size_t d = edit_distance(unknown, name);
    if (d < best_d) {
      best_d = d;
      best = std::string(name);
    }
  }
  // Close enough to be a typo: at most 2 edits, or a third of the word for long keys.
  size_t limit = std::max<size_t>(2, best.size() / 3);
  if (best_d <= limit) return best;
  // An abbreviation ("src", "dst_port"): its letters appear in order in the key.
  if (unknown.size() >= 3) {
    for (auto name : names) {
      size_t i = 0;
      for (char c : name) {
        if (i < unknown.size() && unknown[i] == c) ++i;
      }
      if (i == unknown.size()) return std::string(name);
    }
  }
  return std::string();
}

std::string join_names(std::span<const std::string_view> names) {
  std::string out;
  for (auto n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::vector<std::string_view> names_of(Section s) {
  std::vector<std::string_view> out;
  for (const auto& k : keys_of(s)) out.push_back(k.name);
  return out;
}

}  // namespace

std::string unknown_key_message(std::string_view unknown, std::span<const std::string_view> names) {
  std::string hint = closest_name(unknown, names);
  return hint.empty() ? "unknown key (known keys: " + join_names(names) + ")" : "unknown key (did you mean '" + hint + "'?)";
}

std::string closest_key(Section s, std::string_view unknown) { return closest_name(unknown, names_of(s)); }

std::string known_keys(Section s) { return join_names(names_of(s)); }

}  // namespace uplink
