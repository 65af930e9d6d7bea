#include "config/loader.h"

#include "config/toml.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <map>
#include <cstdio>
#include <cstring>
#include <set>

#include "common/log.h"
#include "common/marks.h"
#include "common/units.h"
#include "config/schema.h"

namespace uplink {

namespace {

using Region = toml::source_region;

constexpr int kMaxTier = 16;
constexpr int kMaxWeight = 256;  // Linux multipath nexthop weights are 1..256
constexpr int kMaxSimSlot = 8;
constexpr uint32_t kRulePrioritySpan = 1000;
constexpr uint32_t kMainRulePriority = 32766;

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

bool earlier(const toml::source_position& a, const toml::source_position& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

struct Entry {
  const toml::key* key;
  const toml::node* node;
};

// toml++ keeps a table's keys sorted by name; messages and link order follow the file.
std::vector<Entry> in_file_order(const toml::table& t) {
  std::vector<Entry> out;
  for (auto&& [k, v] : t) out.push_back({&k, &v});
  std::stable_sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    const auto& pa = a.node->is_table() ? a.node->source().begin : a.key->source().begin;
    const auto& pb = b.node->is_table() ? b.node->source().begin : b.key->source().begin;
    return earlier(pa, pb);
  });
  return out;
}

// Link, policy and rule names end up in logs, JSON, nft comments and CLI
// arguments: keep them to a safe alphabet.
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  if (!std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Kernel interface names: at most 15 bytes (IFNAMSIZ - 1), no '/', ':' or whitespace.
bool valid_interface(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c > ' ' && c != '/' && c != ':' && static_cast<unsigned char>(c) < 0x7f;
  });
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<uint16_t> parse_port_number(std::string_view s) {
  if (!all_digits(s) || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

Result<ProbeTarget> parse_target(std::string_view text) {
  ProbeTarget t;
  t.original = std::string(text);
  std::string_view addr = text, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("invalid probe target '" + t.original + "': expected \"[IPv6]:PORT\"");
    }
    addr = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    addr = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto a = IpAddress::parse(addr);
  if (!a) return make_error("invalid probe target '" + t.original + "': not an IP address (hostnames are not resolved)");
  if (text.front() == '[' && !a->is_v6()) {
    return make_error("invalid probe target '" + t.original + "': brackets are for IPv6 addresses only");
  }
  t.address = *a;
  if (addr.size() != text.size()) {
    auto p = parse_port_number(port);
    if (!p) return make_error("invalid probe target '" + t.original + "': port must be 1..65535");
    t.port = *p;
  }
  return t;
}

Result<std::string> check_modem_selector(const std::string& s) {
  auto bad = [&] {
    return make_error("invalid modem selector '" + s +
                      "' (expected \"any\", \"imei:NUMBER\", \"index:N\" or \"port:NAME\")");
  };
  if (s == "any") return s;
  auto colon = s.find(':');
  if (colon == std::string::npos) return bad();
  std::string_view kind(s.data(), colon), arg(s.data() + colon + 1, s.size() - colon - 1);
  if (kind == "imei" && all_digits(arg) && arg.size() >= 14 && arg.size() <= 16) return s;
  if (kind == "index" && all_digits(arg) && arg.size() <= 4) return s;
  if (kind == "port" && valid_interface(arg)) return s;
  return bad();
}

class Loader {
 public:
  explicit Loader(std::string path) : path_(std::move(path)) {}

  Config run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, std::string_view(path_));
    } catch (const toml::parse_error& e) {
      throw ConfigError(path_, static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column),
                        std::string(e.description()));
    }
    Config c;
    c.path = path_;
    for (const auto& e : in_file_order(root)) {
      std::string key(e.key->str());
      if (!find_key(Section::root, key)) unknown_key(*e.key, "", Section::root);
    }
    if (auto* n = root.get("daemon")) load_daemon(want_table(*n, "daemon"), c.daemon);
    if (auto* n = root.get("links")) load_links(want_table(*n, "links"), c);
    if (auto* n = root.get("policies")) load_policies(want_table(*n, "policies"), c);
    if (auto* n = root.get("rules")) load_rules(*n, c);
    return c;
  }

 private:
  // ---- errors -------------------------------------------------------------

  [[noreturn]] void fail(const Region& r, const std::string& msg) const {
    throw ConfigError(path_, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column), msg);
  }
  [[noreturn]] void fail(const toml::node& n, const std::string& where, const std::string& msg) const {
    fail(n.source(), where + ": " + msg);
  }

  static std::string join(const std::string& where, std::string_view key) {
    return where.empty() ? std::string(key) : where + "." + std::string(key);
  }

  [[noreturn]] void unknown_key(const toml::key& k, const std::string& where, Section s) const {
    std::string hint = closest_key(s, k.str());
    std::string msg = join(where, k.str()) + ": unknown key";
    msg += hint.empty() ? " (known keys: " + known_keys(s) + ")" : " (did you mean '" + hint + "'?)";
    fail(k.source(), msg);
  }

  void check_keys(const toml::table& t, Section s, const std::string& where) const {
    for (const auto& e : in_file_order(t)) {
      if (!find_key(s, e.key->str())) unknown_key(*e.key, where, s);
    }
  }

  // ---- typed access -------------------------------------------------------

  const toml::table& want_table(const toml::node& n, const std::string& where) const {
    if (!n.is_table()) fail(n, where, "expected a table, got " + type_name(n));
    return *n.as_table();
  }

  std::string get_string(const toml::node& n, const std::string& where) const {
    if (!n.is_string()) fail(n, where, "expected a string, got " + type_name(n));
    // Every string ends up in a C API (paths, interface names, nft): a NUL would cut it short.
    if (n.as_string()->get().find('\0') != std::string::npos) fail(n, where, "must not contain a NUL character");
    return n.as_string()->get();
  }

  bool get_bool(const toml::node& n, const std::string& where) const {
    if (!n.is_boolean()) fail(n, where, "expected a boolean (true or false), got " + type_name(n));
    return n.as_boolean()->get();
  }

  int64_t get_int(const toml::node& n, const std::string& where, int64_t lo, int64_t hi) const {
    if (!n.is_integer()) fail(n, where, "expected an integer, got " + type_name(n));
    int64_t v = n.as_integer()->get();
    if (v < lo) fail(n, where, "must be at least " + std::to_string(lo) + ", got " + std::to_string(v));
    if (v > hi) fail(n, where, "must be at most " + std::to_string(hi) + ", got " + std::to_string(v));
    return v;
  }

  double get_number(const toml::node& n, const std::string& where) const {
    if (n.is_integer()) return static_cast<double>(n.as_integer()->get());
    if (n.is_floating_point()) {
      double v = n.as_floating_point()->get();
      if (!std::isfinite(v)) fail(n, where, "must be a finite number");
      return v;
    }
    fail(n, where, "expected a number, got " + type_name(n));
  }

  Duration get_duration(const toml::node& n, const std::string& where, bool allow_zero = false) const {
    if (!n.is_string()) fail(n, where, "expected a duration string such as \"100ms\", got " + type_name(n));
    auto d = parse_duration(n.as_string()->get());
    if (!d) fail(n, where, d.error().message);
    if (!allow_zero && *d <= Duration::zero()) fail(n, where, "must be greater than 0");
    return *d;
  }

  const toml::array& want_array(const toml::node& n, const std::string& where, bool non_empty) const {
    if (!n.is_array()) fail(n, where, "expected an array, got " + type_name(n));
    const auto& a = *n.as_array();
    if (non_empty && a.empty()) fail(n, where, "must not be empty");
    return a;
  }

  std::string get_path(const toml::node& n, const std::string& where) const {
    std::string s = get_string(n, where);
    if (s.empty() || s.front() != '/') fail(n, where, "must be an absolute path, got '" + s + "'");
    return s;
  }

  std::string get_interface(const toml::node& n, const std::string& where) const {
    std::string s = get_string(n, where);
    if (!valid_interface(s)) {
      fail(n, where, "invalid interface name '" + s + "' (1..15 characters, no '/', ':' or spaces)");
    }
    return s;
  }

  IpPrefix get_prefix(const toml::node& n, const std::string& where) const {
    auto p = IpPrefix::parse(get_string(n, where));
    if (!p) fail(n, where, p.error().message);
    return *p;
  }

  // ---- [daemon] -----------------------------------------------------------

  void load_daemon(const toml::table& t, DaemonConfig& d) {
    check_keys(t, Section::daemon, "daemon");
    auto w = [](std::string_view k) { return "daemon." + std::string(k); };
    if (auto* n = t.get("socket")) d.socket = get_path(*n, w("socket"));
    if (auto* n = t.get("socket_group")) d.socket_group = get_string(*n, w("socket_group"));
    if (auto* n = t.get("state_dir")) d.state_dir = get_path(*n, w("state_dir"));
    if (auto* n = t.get("hooks_dir")) d.hooks_dir = get_path(*n, w("hooks_dir"));
    if (auto* n = t.get("hook_timeout")) d.hook_timeout = get_duration(*n, w("hook_timeout"));
    if (auto* n = t.get("log_level")) {
      d.log_level = get_string(*n, w("log_level"));
      if (!is_valid_log_level(d.log_level)) {
        fail(*n, w("log_level"),
             "invalid log level '" + d.log_level + "' (trace | debug | info | warn | error | critical | off)");
      }
    }
    if (auto* n = t.get("table_base")) {
      // Stay clear of the reserved tables 253..255 and of the 32-bit limit.
      d.table_base = static_cast<uint32_t>(get_int(*n, w("table_base"), 1, 0x7fffffff));
    }
    if (auto* n = t.get("fwmark_mask")) {
      d.fwmark_mask = static_cast<uint32_t>(get_int(*n, w("fwmark_mask"), 1, 0xffffffffLL));
      uint32_t m = d.fwmark_mask, low = m & (~m + 1);
      if (((m + low) & m) != 0) fail(*n, w("fwmark_mask"), hex(m) + " is not one contiguous run of bits");
      if (auto layout = MarkLayout::from_mask(m); !layout) fail(*n, w("fwmark_mask"), layout.error().message);
    }
    if (auto* n = t.get("fwmark_base")) {
      d.fwmark_base = static_cast<uint32_t>(get_int(*n, w("fwmark_base"), 1, 0xffffffffLL));
    }
    {
      uint32_t m = d.fwmark_mask, low = m & (~m + 1);
      if ((d.fwmark_base & ~m) != 0 || d.fwmark_base % low != 0) {
        const toml::node* n = t.get("fwmark_base") ? t.get("fwmark_base") : t.get("fwmark_mask");
        fail(*n, w(t.get("fwmark_base") ? "fwmark_base" : "fwmark_mask"),
             "fwmark_base " + hex(d.fwmark_base) + " is not a multiple of " + hex(low) + " inside fwmark_mask " +
                 hex(m));
      }
    }
    if (auto* n = t.get("rule_priority_base")) {
      // uplinkd's rules must sort before the kernel's "main" rule (32766).
      d.rule_priority_base = static_cast<uint32_t>(
          get_int(*n, w("rule_priority_base"), 1, kMainRulePriority - kRulePrioritySpan));
    }
  }

  // ---- [links.NAME] -------------------------------------------------------

  void load_links(const toml::table& links, Config& c) {
    std::map<std::string, std::string> by_interface;  // interface -> link
    for (const auto& e : in_file_order(links)) {
      std::string name(e.key->str());
      std::string where = "links." + name;
      if (!valid_name(name)) {
        fail(e.key->source(), where + ": invalid link name (1..32 letters, digits, '_' or '-')");
      }
      const auto& t = want_table(*e.node, where);
      LinkConfig l = load_link(name, t, where);
      if (auto [it, fresh] = by_interface.emplace(l.interface, name); !fresh) {
        fail(*t.get("interface"), where + ".interface",
             "interface '" + l.interface + "' is already used by link '" + it->second + "'");
      }
      link_nodes_[name] = &t;
      c.link_order.push_back(name);
      c.links.emplace(name, std::move(l));
    }
    assign_tables(c);
    assign_fwmarks(c);
  }

  LinkConfig load_link(const std::string& name, const toml::table& t, const std::string& where) {
    check_keys(t, Section::link, where);
    LinkConfig l;
    l.name = name;
    auto w = [&](std::string_view k) { return join(where, k); };
    if (auto* n = t.get("kind")) {
      std::string s = get_string(*n, w("kind"));
      auto k = parse_link_kind(s);
      if (!k) fail(*n, w("kind"), "unknown kind '" + s + "' (valid: " + valid_names_link_kind() + ")");
      l.kind = *k;
    }
    bool cellular = l.kind == LinkKind::cellular;
    l.metered = cellular;
    auto* iface = t.get("interface");
    if (!iface) fail(t.source(), where + ": missing required key 'interface'");
    l.interface = get_interface(*iface, w("interface"));
    if (auto* n = t.get("gateway")) {
      auto a = IpAddress::parse(get_string(*n, w("gateway")));
      if (!a) fail(*n, w("gateway"), a.error().message);
      l.gateway = *a;
    }
    if (auto* n = t.get("gateway6")) {
      auto a = IpAddress::parse(get_string(*n, w("gateway6")));
      if (!a) fail(*n, w("gateway6"), a.error().message);
      if (!a->is_v6()) fail(*n, w("gateway6"), "'" + a->to_string() + "' is not an IPv6 address (IPv4: use 'gateway')");
      if (l.gateway && l.gateway->is_v6())
        fail(*n, w("gateway6"), "gateway is already an IPv6 address; set the IPv6 next hop in one of them");
      l.gateway6 = *a;
    }
    if (auto* n = t.get("metered")) l.metered = get_bool(*n, w("metered"));
    if (auto* n = t.get("enabled")) l.enabled = get_bool(*n, w("enabled"));
    if (auto* n = t.get("table")) {
      l.table = static_cast<uint32_t>(get_int(*n, w("table"), 0, 0xffffffffLL));
      if (l.table >= 253 && l.table <= 255) {
        fail(*n, w("table"), "table " + std::to_string(l.table) + " is reserved by the kernel (253 default, 254 main, 255 local)");
      }
    }
    if (auto* n = t.get("fwmark")) l.fwmark = static_cast<uint32_t>(get_int(*n, w("fwmark"), 0, 0xffffffffLL));

    // Cellular-only keys: on another kind they would be silently meaningless.
    for (std::string_view k : {"modem", "apn", "sim_slot", "private_routes"}) {
      if (!cellular && t.contains(k)) {
        for (auto&& [key, v] : t) {
          if (key.str() == k) {
            fail(key.source(), w(k) + ": only cellular links take '" + std::string(k) + "' (kind is '" +
                                   std::string(to_string(l.kind)) + "')");
          }
        }
      }
    }
    if (cellular) {
      l.modem = "any";
      if (auto* n = t.get("modem")) {
        auto m = check_modem_selector(get_string(*n, w("modem")));
        if (!m) fail(*n, w("modem"), m.error().message);
        l.modem = *m;
      }
      if (auto* n = t.get("apn")) {
        l.apn = get_string(*n, w("apn"));
        if (l.apn.size() > 100) fail(*n, w("apn"), "an APN is at most 100 characters");
      }
      if (auto* n = t.get("sim_slot")) l.sim_slot = static_cast<int>(get_int(*n, w("sim_slot"), 0, kMaxSimSlot));
      if (auto* n = t.get("private_routes")) {
        const auto& a = want_array(*n, w("private_routes"), false);
        for (size_t i = 0; i < a.size(); ++i) {
          l.private_routes.push_back(get_prefix(*a.get(i), w("private_routes") + "[" + std::to_string(i) + "]"));
        }
      }
    }

    auto* probe = t.get("probe");
    if (!probe) fail(t.source(), where + ": missing [" + where + ".probe] with targets (every link needs probe targets)");
    load_probe(want_table(*probe, w("probe")), l, w("probe"));
    if (auto* n = t.get("quality")) l.quality = load_quality(want_table(*n, w("quality")), w("quality"));
    return l;
  }

  void load_probe(const toml::table& t, LinkConfig& l, const std::string& where) {
    check_keys(t, Section::probe, where);
    auto w = [&](std::string_view k) { return join(where, k); };
    ProbeConfig& p = l.probe;
    if (auto* n = t.get("method")) {
      std::string s = get_string(*n, w("method"));
      auto m = parse_probe_method(s);
      if (!m) fail(*n, w("method"), "unknown method '" + s + "' (valid: " + valid_names_probe_method() + ")");
      p.method = *m;
    }
    auto* targets = t.get("targets");
    if (!targets) fail(t.source(), where + ": missing required key 'targets' (every link needs probe targets)");
    const auto& arr = want_array(*targets, w("targets"), true);
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string wi = w("targets") + "[" + std::to_string(i) + "]";
      const toml::node& n = *arr.get(i);
      auto target = parse_target(get_string(n, wi));
      if (!target) fail(n, wi, target.error().message);
      if (p.method == ProbeMethod::icmp && target->port != 0) {
        fail(n, wi, "icmp probes take no port ('" + target->original + "')");
      }
      if (target->port == 0) target->port = default_probe_port(p.method);
      for (size_t j = 0; j < p.targets.size(); ++j) {
        if (p.targets[j].address == target->address && p.targets[j].port == target->port) {
          fail(n, wi, "duplicate probe target '" + target->original + "' (same as targets[" + std::to_string(j) + "])");
        }
      }
      p.targets.push_back(std::move(*target));
    }
    if (auto* n = t.get("reliability")) {
      p.reliability = static_cast<int>(get_int(*n, w("reliability"), 1, 1000));
      if (static_cast<size_t>(p.reliability) > p.targets.size()) {
        fail(*n, w("reliability"), std::to_string(p.reliability) + " exceeds the number of targets (" +
                                       std::to_string(p.targets.size()) + ")");
      }
    }
    p.interval = 1s;  // metered links stay cheap by probing one target per steady round, not by a longer interval
    if (auto* n = t.get("interval")) p.interval = get_duration(*n, w("interval"));
    p.fast_interval = std::min<Duration>(100ms, p.interval);
    if (auto* n = t.get("fast_interval")) {
      p.fast_interval = get_duration(*n, w("fast_interval"));
      if (p.fast_interval > p.interval) {
        fail(*n, w("fast_interval"), format_duration(p.fast_interval) + " is longer than interval (" +
                                         format_duration(p.interval) + ")");
      }
    }
    if (auto* n = t.get("timeout")) {
      if (n->is_string() && n->as_string()->get() == "auto") {
        p.timeout.reset();
      } else {
        p.timeout = get_duration(*n, w("timeout"));
      }
    }
    if (auto* n = t.get("down_after")) p.down_after = static_cast<int>(get_int(*n, w("down_after"), 1, 1000));
    if (auto* n = t.get("up_after")) p.up_after = static_cast<int>(get_int(*n, w("up_after"), 1, 1000));
    if (auto* n = t.get("http_path")) {
      if (p.method != ProbeMethod::http) fail(*n, w("http_path"), "only used with method = \"http\"");
      p.http_path = get_string(*n, w("http_path"));
      if (p.http_path.empty() || p.http_path.front() != '/' ||
          std::any_of(p.http_path.begin(), p.http_path.end(), [](char c) { return c <= ' ' || c == 0x7f; })) {
        fail(*n, w("http_path"), "must start with '/' and contain no spaces or control characters");
      }
    }
    if (auto* n = t.get("dns_name")) {
      if (p.method != ProbeMethod::dns) fail(*n, w("dns_name"), "only used with method = \"dns\"");
      p.dns_name = get_string(*n, w("dns_name"));
      if (p.dns_name.empty() || p.dns_name.size() > 253 ||
          std::any_of(p.dns_name.begin(), p.dns_name.end(), [](char c) { return c <= ' ' || c == 0x7f; })) {
        fail(*n, w("dns_name"), "invalid DNS name '" + p.dns_name + "'");
      }
    }
  }

  QualityConfig load_quality(const toml::table& t, const std::string& where) {
    check_keys(t, Section::quality, where);
    auto w = [&](std::string_view k) { return join(where, k); };
    QualityConfig q;
    if (auto* n = t.get("max_latency")) q.max_latency = get_duration(*n, w("max_latency"));
    if (auto* n = t.get("max_loss")) {
      q.max_loss = get_number(*n, w("max_loss"));
      if (*q.max_loss < 0 || *q.max_loss > 100) fail(*n, w("max_loss"), "a percentage must be within 0..100");
    }
    if (auto* n = t.get("max_jitter")) q.max_jitter = get_duration(*n, w("max_jitter"));
    if (auto* n = t.get("recover_ratio")) {
      q.recover_ratio = get_number(*n, w("recover_ratio"));
      if (!(q.recover_ratio > 0 && q.recover_ratio <= 1)) fail(*n, w("recover_ratio"), "must be within (0, 1]");
    }
    if (!q.max_latency && !q.max_loss && !q.max_jitter) {
      fail(t.source(), where + ": set at least one of max_latency, max_loss, max_jitter");
    }
    return q;
  }

  // Auto table ids: table_base + position in the file, moved up past ids that
  // are taken (explicit ones, earlier auto ones) or reserved by the kernel.
  void assign_tables(Config& c) {
    std::map<uint32_t, std::string> used;
    for (const auto& name : c.link_order) {
      const LinkConfig& l = c.links.at(name);
      if (l.table == 0) continue;
      if (auto [it, fresh] = used.emplace(l.table, name); !fresh) {
        fail(*link_nodes_.at(name)->get("table"), "links." + name + ".table",
             "table " + std::to_string(l.table) + " is already used by link '" + it->second + "'");
      }
    }
    for (size_t i = 0; i < c.link_order.size(); ++i) {
      LinkConfig& l = c.links.at(c.link_order[i]);
      if (l.table != 0) continue;
      uint64_t id = uint64_t{c.daemon.table_base} + i;
      while (used.count(static_cast<uint32_t>(id)) || (id >= 253 && id <= 255)) ++id;
      if (id > 0xffffffffULL) fail(link_nodes_.at(l.name)->source(), "links." + l.name + ": no free routing table id");
      l.table = static_cast<uint32_t>(id);
      used.emplace(l.table, l.name);
    }
  }

  // Auto marks: fwmark_base + position * step, step = the mask's lowest bit,
  // so every mark stays inside fwmark_mask and the rest of the 32 bits stay
  // free for other software (firewalls, VPN clients).
  void assign_fwmarks(Config& c) {
    const uint32_t mask = c.daemon.fwmark_mask, step = mask & (~mask + 1);
    // The mask was checked when [daemon] was read.
    const MarkLayout layout = *MarkLayout::from_mask(mask);
    std::map<uint32_t, std::string> used;
    for (const auto& name : c.link_order) {
      const LinkConfig& l = c.links.at(name);
      if (l.fwmark == 0) continue;
      const toml::node& n = *link_nodes_.at(name)->get("fwmark");
      if ((l.fwmark & ~mask) != 0) {
        fail(n, "links." + name + ".fwmark", hex(l.fwmark) + " is outside daemon.fwmark_mask " + hex(mask));
      }
      // The sticky bit and the last-resort marks are uplinkd's own (common/marks.h).
      if (auto why = layout.check_link_mark(l.fwmark)) fail(n, "links." + name + ".fwmark", hex(l.fwmark) + " " + *why);
      if (auto [it, fresh] = used.emplace(l.fwmark, name); !fresh) {
        fail(n, "links." + name + ".fwmark", "fwmark " + hex(l.fwmark) + " is already used by link '" + it->second + "'");
      }
    }
    for (size_t i = 0; i < c.link_order.size(); ++i) {
      LinkConfig& l = c.links.at(c.link_order[i]);
      if (l.fwmark != 0) continue;
      uint64_t mark = uint64_t{c.daemon.fwmark_base} + uint64_t{step} * i;
      auto taken = [&](uint64_t m) {
        auto v = static_cast<uint32_t>(m);
        return used.count(v) || v == layout.unreachable || v == layout.blackhole;
      };
      while (mark <= 0xffffffffULL && taken(mark)) mark += step;
      if (mark > 0xffffffffULL || layout.check_link_mark(static_cast<uint32_t>(mark))) {
        fail(link_nodes_.at(l.name)->source(),
             "links." + l.name + ": no free fwmark left inside daemon.fwmark_mask " + hex(mask) + " (too many links)");
      }
      l.fwmark = static_cast<uint32_t>(mark);
      used.emplace(l.fwmark, l.name);
    }
  }

  // ---- [policies.NAME] ----------------------------------------------------

  void load_policies(const toml::table& policies, Config& c) {
    for (const auto& e : in_file_order(policies)) {
      std::string name(e.key->str());
      std::string where = "policies." + name;
      if (!valid_name(name)) {
        fail(e.key->source(), where + ": invalid policy name (1..32 letters, digits, '_' or '-')");
      }
      PolicyConfig p = load_policy(name, want_table(*e.node, where), where, c);
      c.policy_order.push_back(name);
      c.policies.emplace(name, std::move(p));
    }
  }

  PolicyConfig load_policy(const std::string& name, const toml::table& t, const std::string& where, const Config& c) {
    check_keys(t, Section::policy, where);
    auto w = [&](std::string_view k) { return join(where, k); };
    PolicyConfig p;
    p.name = name;
    if (auto* n = t.get("mode")) {
      std::string s = get_string(*n, w("mode"));
      auto m = parse_policy_mode(s);
      if (!m) fail(*n, w("mode"), "unknown mode '" + s + "' (valid: " + valid_names_policy_mode() + ")");
      p.mode = *m;
    }
    if (auto* n = t.get("last_resort")) {
      std::string s = get_string(*n, w("last_resort"));
      auto r = parse_last_resort(s);
      if (!r) fail(*n, w("last_resort"), "unknown last_resort '" + s + "' (valid: " + valid_names_last_resort() + ")");
      p.last_resort = *r;
    }
    auto* members = t.get("members");
    if (!members) fail(t.source(), where + ": missing required key 'members'");
    const auto& arr = want_array(*members, w("members"), true);
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string wi = w("members") + "[" + std::to_string(i) + "]";
      const toml::node& mn = *arr.get(i);
      if (!mn.is_table()) fail(mn, wi, "expected a table {link = \"NAME\", tier = N, weight = N}, got " + type_name(mn));
      const toml::table& mt = *mn.as_table();
      check_keys(mt, Section::member, wi);
      PolicyMember m;
      auto* link = mt.get("link");
      if (!link) fail(mt.source(), wi + ": missing required key 'link'");
      m.link = get_string(*link, wi + ".link");
      if (!c.links.count(m.link)) {
        fail(*link, wi + ".link", "link '" + m.link + "' does not exist" + defined_list(c.link_order, "links"));
      }
      for (size_t j = 0; j < p.members.size(); ++j) {
        if (p.members[j].link == m.link) {
          fail(*link, wi + ".link", "link '" + m.link + "' is listed twice (also members[" + std::to_string(j) + "])");
        }
      }
      if (auto* n = mt.get("tier")) m.tier = static_cast<int>(get_int(*n, wi + ".tier", 1, kMaxTier));
      if (auto* n = mt.get("weight")) m.weight = static_cast<int>(get_int(*n, wi + ".weight", 1, kMaxWeight));
      p.members.push_back(std::move(m));
    }
    return p;
  }

  static std::string defined_list(const std::vector<std::string>& names, std::string_view what) {
    if (names.empty()) return " (no " + std::string(what) + " are defined)";
    std::string out = " (defined " + std::string(what) + ": ";
    for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
    return out + ")";
  }

  // ---- [[rules]] ----------------------------------------------------------

  void load_rules(const toml::node& n, Config& c) {
    const auto& arr = want_array(n, "rules", false);
    std::map<std::string, size_t> names;
    std::optional<size_t> catch_all;
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string where = "rules[" + std::to_string(i) + "]";
      const toml::node& rn = *arr.get(i);
      if (!rn.is_table()) fail(rn, where, "expected a table ([[rules]]), got " + type_name(rn));
      const toml::table& t = *rn.as_table();
      RuleConfig r = load_rule(t, where, c);
      if (auto [it, fresh] = names.emplace(r.name, i); !fresh) {
        fail(*t.get("name"), where + ".name",
             "duplicate rule name '" + r.name + "' (first used by rules[" + std::to_string(it->second) + "] at line " +
                 std::to_string(arr.get(it->second)->source().begin.line) + ")");
      }
      if (catch_all) {
        fail(t.source(), where + ": unreachable: rule '" + r.name + "' follows catch-all rule '" +
                             c.rules[*catch_all].name + "' at line " +
                             std::to_string(arr.get(*catch_all)->source().begin.line));
      }
      if (r.is_catch_all()) catch_all = i;
      c.rules.push_back(std::move(r));
    }
  }

  RuleConfig load_rule(const toml::table& t, const std::string& where, const Config& c) {
    check_keys(t, Section::rule, where);
    auto w = [&](std::string_view k) { return join(where, k); };
    RuleConfig r;
    auto* name = t.get("name");
    if (!name) fail(t.source(), where + ": missing required key 'name'");
    r.name = get_string(*name, w("name"));
    if (!valid_name(r.name)) fail(*name, w("name"), "invalid rule name '" + r.name + "' (1..32 letters, digits, '_' or '-')");
    if (auto* n = t.get("source")) r.source = get_prefix(*n, w("source"));
    if (auto* n = t.get("destination")) r.destination = get_prefix(*n, w("destination"));
    if (r.source && r.destination && r.source->addr.family != r.destination->addr.family) {
      fail(*t.get("destination"), w("destination"), "source and destination are of different address families");
    }
    if (auto* n = t.get("protocol")) {
      std::string s = get_string(*n, w("protocol"));
      if (s != "tcp" && s != "udp" && s != "icmp" && s != "icmpv6") {
        fail(*n, w("protocol"), "unknown protocol '" + s + "' (valid: tcp | udp | icmp | icmpv6)");
      }
      r.protocol = s;
    }
    for (auto [key, out] : {std::pair{"source_port", &r.source_ports}, std::pair{"destination_port", &r.destination_ports}}) {
      auto* n = t.get(key);
      if (!n) continue;
      if (r.protocol != "tcp" && r.protocol != "udp") fail(*n, w(key), "ports need protocol = \"tcp\" or \"udp\"");
      *out = get_ports(*n, w(key));
    }
    if (auto* n = t.get("input_interface")) r.input_interface = get_interface(*n, w("input_interface"));
    if (auto* n = t.get("local")) r.local = get_bool(*n, w("local"));
    if (r.local && r.input_interface) {
      fail(*t.get("local"), w("local"), "router-originated traffic has no input interface: set local or input_interface, not both");
    }
    auto* policy = t.get("policy");
    if (!policy) fail(t.source(), where + ": missing required key 'policy'");
    r.policy = get_string(*policy, w("policy"));
    if (!c.policies.count(r.policy)) {
      fail(*policy, w("policy"), "policy '" + r.policy + "' does not exist" + defined_list(c.policy_order, "policies"));
    }
    if (auto* n = t.get("sticky")) r.sticky = get_duration(*n, w("sticky"));
    return r;
  }

  std::vector<PortRange> get_ports(const toml::node& n, const std::string& where) const {
    std::vector<PortRange> out;
    if (n.is_array()) {
      const auto& a = want_array(n, where, true);
      for (size_t i = 0; i < a.size(); ++i) out.push_back(get_port(*a.get(i), where + "[" + std::to_string(i) + "]"));
    } else {
      out.push_back(get_port(n, where));
    }
    return out;
  }

  PortRange get_port(const toml::node& n, const std::string& where) const {
    if (n.is_integer()) {
      auto v = static_cast<uint16_t>(get_int(n, where, 1, 65535));
      return {v, v};
    }
    if (!n.is_string()) {
      fail(n, where, "expected a port (80), a range (\"8000-8100\") or an array of those, got " + type_name(n));
    }
    std::string s = n.as_string()->get();
    auto dash = s.find('-');
    auto first = parse_port_number(std::string_view(s).substr(0, dash));
    auto last = dash == std::string::npos ? first : parse_port_number(std::string_view(s).substr(dash + 1));
    if (!first || !last) fail(n, where, "invalid port '" + s + "' (1..65535, or a range like \"8000-8100\")");
    if (*first > *last) fail(n, where, "invalid port range '" + s + "': first port is above the last");
    return {*first, *last};
  }

  std::string path_;
  std::map<std::string, const toml::table*> link_nodes_;
};

}  // namespace

Config parse_config(std::string_view text, const std::string& path) { return Loader(path).run(text); }

bool read_text_file(const std::string& path, std::string& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out.clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool ok = !std::ferror(f);
  int err = errno;
  std::fclose(f);
  errno = err;
  return ok;
}

Config load_config_file(const std::string& path) {
  std::string text;
  if (!read_text_file(path, text)) throw ConfigError(path, 0, 0, std::string("cannot read: ") + std::strerror(errno));
  return parse_config(text, path);
}

}  // namespace uplink
