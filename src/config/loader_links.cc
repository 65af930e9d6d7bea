// [links.NAME], [links.NAME.probe], [links.NAME.quality] and the link kind's extension keys.
#include <algorithm>

#include "common/units.h"
#include "config/loader_impl.h"

namespace uplink {

namespace {
constexpr int kMaxSimSlot = 8;
}  // namespace

void Loader::load_links(const toml::table& links, Config& c) {
  std::map<std::string, std::string> by_interface;  // interface -> link
  for (const auto& e : in_file_order(links)) {
    std::string name(e.key->str());
    std::string where = "links." + name;
    declared_links_.insert(name);
    guard([&] {
      if (!valid_name(name)) {
        fail(e.key->source(), where + ": invalid link name (1..32 letters, digits, '_' or '-')");
      }
      const auto& t = want_table(*e.node, where);
      link_nodes_[name] = &t;
      LinkConfig l = load_link(name, t, where, c);
      if (!l.interface.empty()) {
        if (auto [it, fresh] = by_interface.emplace(l.interface, name); !fresh) {
          report(*t.get("interface"), where + ".interface",
                 "interface '" + l.interface + "' is already used by link '" + it->second + "'");
        }
      }
      c.link_order.push_back(name);
      c.links.emplace(name, std::move(l));
    });
  }
  assign_tables(c);
  assign_fwmarks(c);
}

LinkConfig Loader::load_link(const std::string& name, const toml::table& t, const std::string& where,
                             const Config& c) {
  LinkConfig l;
  l.name = name;
  auto w = [&](std::string_view k) { return SectionContext::join(where, k); };
  bool kind_ok = read_key(t, "kind", [&](const toml::node& n) {
    std::string s = get_string(n, w("kind"));
    auto k = parse_link_kind(s);
    if (!k) fail(n, w("kind"), "unknown kind '" + s + "' (valid: " + valid_names_link_kind() + ")");
    l.kind = *k;
  });

  // Keys: the core's, plus those the kind's extension claims (config/section.h).
  const LinkExtensionSpec* ext = kind_ok ? registry_.find_link_extension(to_string(l.kind)) : nullptr;
  std::vector<std::string_view> extra;
  if (ext) extra.assign(ext->keys.begin(), ext->keys.end());
  for (const auto& e : in_file_order(t)) {
    std::string_view k = e.key->str();
    if (find_key(Section::link, k) || std::find(extra.begin(), extra.end(), k) != extra.end()) continue;
    if (const LinkExtensionSpec* owner = registry_.link_extension_owning(k)) {
      // Another kind's key; with an invalid kind that is already reported.
      if (kind_ok) {
        report(e.key->source(), w(k) + ": only " + owner->kind + " links take '" + std::string(k) + "' (kind is '" +
                                    std::string(to_string(l.kind)) + "')");
      }
      continue;
    }
    unknown_key(*e.key, where, Section::link, extra);
  }

  bool cellular = l.kind == LinkKind::cellular;
  l.metered = cellular;
  if (auto* iface = t.get("interface")) {
    guard([&] { l.interface = get_interface(*iface, w("interface")); });
  } else {
    report(t.source(), where + ": missing required key 'interface'");
  }
  read_key(t, "gateway", [&](const toml::node& n) { l.gateway = get_address(n, w("gateway")); });
  read_key(t, "gateway6", [&](const toml::node& n) {
    IpAddress a = get_address(n, w("gateway6"));
    if (!a.is_v6()) fail(n, w("gateway6"), "'" + a.to_string() + "' is not an IPv6 address (IPv4: use 'gateway')");
    if (l.gateway && l.gateway->is_v6()) {
      fail(n, w("gateway6"), "gateway is already an IPv6 address; set the IPv6 next hop in one of them");
    }
    l.gateway6 = a;
  });
  read_key(t, "metered", [&](const toml::node& n) { l.metered = get_bool(n, w("metered")); });
  read_key(t, "enabled", [&](const toml::node& n) { l.enabled = get_bool(n, w("enabled")); });
  read_key(t, "table", [&](const toml::node& n) {
    auto table = static_cast<uint32_t>(get_int(n, w("table"), 0, 0xffffffffLL));
    if (table >= 253 && table <= 255) {
      fail(n, w("table"),
           "table " + std::to_string(table) + " is reserved by the kernel (253 default, 254 main, 255 local)");
    }
    l.table = table;
  });
  read_key(t, "fwmark", [&](const toml::node& n) {
    l.fwmark = static_cast<uint32_t>(get_int(n, w("fwmark"), 0, 0xffffffffLL));
  });

  // Cellular-only keys: on another kind they would be silently meaningless.
  for (std::string_view k : {"modem", "apn", "sim_slot", "private_routes"}) {
    if (!cellular && kind_ok && t.contains(k)) {
      report(key_of(t, k)->source(), w(k) + ": only cellular links take '" + std::string(k) + "' (kind is '" +
                                         std::string(to_string(l.kind)) + "')");
    }
  }
  if (cellular) {
    l.modem = "any";
    read_key(t, "modem", [&](const toml::node& n) {
      auto m = check_modem_selector(get_string(n, w("modem")));
      if (!m) fail(n, w("modem"), m.error().message);
      l.modem = *m;
    });
    read_key(t, "apn", [&](const toml::node& n) {
      std::string apn = get_string(n, w("apn"));
      if (apn.size() > 100) fail(n, w("apn"), "an APN is at most 100 characters");
      l.apn = apn;
    });
    read_key(t, "sim_slot", [&](const toml::node& n) {
      l.sim_slot = static_cast<int>(get_int(n, w("sim_slot"), 0, kMaxSimSlot));
    });
    read_key(t, "private_routes", [&](const toml::node& n) {
      const auto& a = want_array(n, w("private_routes"), false);
      for (size_t i = 0; i < a.size(); ++i) {
        guard([&] {
          l.private_routes.push_back(get_prefix(*a.get(i), w("private_routes") + "[" + std::to_string(i) + "]"));
        });
      }
    });
  }

  if (auto* probe = t.get("probe")) {
    guard([&] { load_probe(want_table(*probe, w("probe")), l, w("probe")); });
  } else {
    report(t.source(), where + ": missing [" + where + ".probe] with targets (every link needs probe targets)");
  }
  read_key(t, "quality", [&](const toml::node& n) {
    std::vector<std::string_view> ext_quality;
    if (ext) ext_quality.assign(ext->quality_keys.begin(), ext->quality_keys.end());
    l.quality = load_quality(want_table(n, w("quality")), w("quality"), ext_quality);
  });

  if (ext) {
    SectionContext ctx(diag_, c);
    call_module(diag_, &t, where, [&] { l.extension = ext->parse(t, where, ctx); });
  }
  return l;
}

void Loader::load_probe(const toml::table& t, LinkConfig& l, const std::string& where) {
  check_keys(t, Section::probe, where);
  auto w = [&](std::string_view k) { return SectionContext::join(where, k); };
  ProbeConfig& p = l.probe;
  bool method_ok = read_key(t, "method", [&](const toml::node& n) {
    std::string s = get_string(n, w("method"));
    auto m = parse_probe_method(s);
    if (!m) fail(n, w("method"), "unknown method '" + s + "' (valid: " + valid_names_probe_method() + ")");
    p.method = *m;
  });
  size_t target_count = 0;  // as written, also those that failed: reliability is checked against it
  if (auto* targets = t.get("targets")) {
    guard([&] {
      const auto& arr = want_array(*targets, w("targets"), true);
      target_count = arr.size();
      for (size_t i = 0; i < arr.size(); ++i) {
        guard([&] {
          std::string wi = w("targets") + "[" + std::to_string(i) + "]";
          const toml::node& n = *arr.get(i);
          auto target = parse_target(get_string(n, wi));
          if (!target) fail(n, wi, target.error().message);
          if (p.method == ProbeMethod::icmp && target->port != 0) {
            if (method_ok) fail(n, wi, "icmp probes take no port ('" + target->original + "')");
            throw Bail{};
          }
          if (target->port == 0) target->port = default_probe_port(p.method);
          for (size_t j = 0; j < p.targets.size(); ++j) {
            if (p.targets[j].address == target->address && p.targets[j].port == target->port) {
              fail(n, wi, "duplicate probe target '" + target->original + "' (same as targets[" + std::to_string(j) + "])");
            }
          }
          p.targets.push_back(std::move(*target));
        });
      }
    });
  } else {
    report(t.source(), where + ": missing required key 'targets' (every link needs probe targets)");
  }
  read_key(t, "reliability", [&](const toml::node& n) {
    int r = static_cast<int>(get_int(n, w("reliability"), 1, 1000));
    if (target_count > 0 && static_cast<size_t>(r) > target_count) {
      fail(n, w("reliability"),
           std::to_string(r) + " exceeds the number of targets (" + std::to_string(target_count) + ")");
    }
    p.reliability = r;
  });
  p.interval = 1s;  // metered links stay cheap by probing one target per steady round, not by a longer interval
  bool interval_ok = read_key(t, "interval", [&](const toml::node& n) { p.interval = get_duration(n, w("interval")); });
  p.fast_interval = std::min<Duration>(100ms, p.interval);
  read_key(t, "fast_interval", [&](const toml::node& n) {
    Duration fast = get_duration(n, w("fast_interval"));
    if (interval_ok && fast > p.interval) {
      fail(n, w("fast_interval"),
           format_duration(fast) + " is longer than interval (" + format_duration(p.interval) + ")");
    }
    p.fast_interval = fast;
  });
  read_key(t, "timeout", [&](const toml::node& n) {
    if (n.is_string() && n.as_string()->get() == "auto") {
      p.timeout.reset();
    } else {
      p.timeout = get_duration(n, w("timeout"));
    }
  });
  read_key(t, "down_after", [&](const toml::node& n) { p.down_after = static_cast<int>(get_int(n, w("down_after"), 1, 1000)); });
  read_key(t, "up_after", [&](const toml::node& n) { p.up_after = static_cast<int>(get_int(n, w("up_after"), 1, 1000)); });
  read_key(t, "http_path", [&](const toml::node& n) {
    if (method_ok && p.method != ProbeMethod::http) fail(n, w("http_path"), "only used with method = \"http\"");
    std::string path = get_string(n, w("http_path"));
    if (path.empty() || path.front() != '/' ||
        std::any_of(path.begin(), path.end(), [](char c) { return c <= ' ' || c == 0x7f; })) {
      fail(n, w("http_path"), "must start with '/' and contain no spaces or control characters");
    }
    p.http_path = path;
  });
  read_key(t, "dns_name", [&](const toml::node& n) {
    if (method_ok && p.method != ProbeMethod::dns) fail(n, w("dns_name"), "only used with method = \"dns\"");
    std::string name = get_string(n, w("dns_name"));
    if (name.empty() || name.size() > 253 ||
        std::any_of(name.begin(), name.end(), [](char c) { return c <= ' ' || c == 0x7f; })) {
      fail(n, w("dns_name"), "invalid DNS name '" + name + "'");
    }
    p.dns_name = name;
  });
  read_key(t, "source", [&](const toml::node& n) {
    IpAddress a = get_address(n, w("source"));
    // Probes go out from this address: targets of the other family could never be reached from it.
    for (const auto& target : p.targets) {
      if (target.address.family != a.family) {
        fail(n, w("source"), "source " + a.to_string() + " is " + (a.is_v4() ? "IPv4" : "IPv6") + " but target '" +
                                 target.original + "' is not: the source and every target must be of one address family");
      }
    }
    p.source = a;
  });
}

std::optional<QualityConfig> Loader::load_quality(const toml::table& t, const std::string& where,
                                   const std::vector<std::string_view>& extension_keys) {
  check_keys(t, Section::quality, where, extension_keys);
  auto w = [&](std::string_view k) { return SectionContext::join(where, k); };
  QualityConfig q;
  read_key(t, "max_latency", [&](const toml::node& n) { q.max_latency = get_duration(n, w("max_latency")); });
  read_key(t, "max_loss", [&](const toml::node& n) {
    double v = get_number(n, w("max_loss"));
    if (v < 0 || v > 100) fail(n, w("max_loss"), "a percentage must be within 0..100");
    q.max_loss = v;
  });
  read_key(t, "max_jitter", [&](const toml::node& n) { q.max_jitter = get_duration(n, w("max_jitter")); });
  read_key(t, "recover_ratio", [&](const toml::node& n) {
    double v = get_number(n, w("recover_ratio"));
    if (!(v > 0 && v <= 1)) fail(n, w("recover_ratio"), "must be within (0, 1]");
    q.recover_ratio = v;
  });
  if (!t.contains("max_latency") && !t.contains("max_loss") && !t.contains("max_jitter")) {
    // Radio thresholds alone (the kind's extension reads them) are a quality section too.
    for (std::string_view k : extension_keys)
      if (t.contains(k)) return std::nullopt;
    std::string keys = "max_latency, max_loss, max_jitter";
    for (std::string_view k : extension_keys) keys += ", " + std::string(k);
    report(t.source(), where + ": set at least one of " + keys);
  }
  return q;
}

}  // namespace uplink
