// [policies.NAME] and [[rules]]
#include "config/loader_impl.h"

namespace uplink {

namespace {
constexpr int kMaxTier = 16;
constexpr int kMaxWeight = 256;  // Linux multipath nexthop weights are 1..256
}  // namespace

void Loader::load_policies(const toml::table& policies, Config& c) {
  for (const auto& e : in_file_order(policies)) {
    std::string name(e.key->str());
    std::string where = "policies." + name;
    declared_policies_.insert(name);
    guard([&] {
      if (!valid_name(name)) {
        fail(e.key->source(), where + ": invalid policy name (1..32 letters, digits, '_' or '-')");
      }
      PolicyConfig p = load_policy(name, want_table(*e.node, where), where, c);
      c.policy_order.push_back(name);
      c.policies.emplace(name, std::move(p));
    });
  }
}

PolicyConfig Loader::load_policy(const std::string& name, const toml::table& t, const std::string& where,
                                 const Config& c) {
  check_keys(t, Section::policy, where);
  auto w = [&](std::string_view k) { return SectionContext::join(where, k); };
  PolicyConfig p;
  p.name = name;
  read_key(t, "mode", [&](const toml::node& n) {
    std::string s = get_string(n, w("mode"));
    auto m = parse_policy_mode(s);
    if (!m) fail(n, w("mode"), "unknown mode '" + s + "' (valid: " + valid_names_policy_mode() + ")");
    p.mode = *m;
  });
  read_key(t, "last_resort", [&](const toml::node& n) {
    std::string s = get_string(n, w("last_resort"));
    auto r = parse_last_resort(s);
    if (!r) fail(n, w("last_resort"), "unknown last_resort '" + s + "' (valid: " + valid_names_last_resort() + ")");
    p.last_resort = *r;
  });
  read_key(t, "private", [&](const toml::node& n) { p.is_private = get_bool(n, w("private")); });
  auto* members = t.get("members");
  if (!members) {
    report(t.source(), where + ": missing required key 'members'");
    return p;
  }
  guard([&] {
    const auto& arr = want_array(*members, w("members"), true);
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string wi = w("members") + "[" + std::to_string(i) + "]";
      guard([&] {
        const toml::node& mn = *arr.get(i);
        if (!mn.is_table()) {
          fail(mn, wi, "expected a table {link = \"NAME\", tier = N, weight = N}, got " + type_name(mn));
        }
        const toml::table& mt = *mn.as_table();
        check_keys(mt, Section::member, wi);
        PolicyMember m;
        bool ok = true;
        if (auto* link = mt.get("link")) {
          ok &= guard([&] {
            m.link = get_string(*link, wi + ".link");
            if (!c.links.count(m.link) && !declared_links_.count(m.link)) {
              fail(*link, wi + ".link", "link '" + m.link + "' does not exist" + defined_list(c.link_order, "links"));
            }
            if (auto l = c.links.find(m.link); p.is_private && l != c.links.end()) {
              const auto& lc = l->second;
              bool reaches = lc.kind == LinkKind::wireguard || (lc.kind == LinkKind::cellular && !lc.private_routes.empty());
              if (!reaches)
                fail(*link, wi + ".link",
                     "link '" + m.link + "' cannot reach the private network (policy is private = true): members "
                     "must be tunnels (kind = \"wireguard\") or cellular links with private_routes");
            }
            for (size_t j = 0; j < p.members.size(); ++j) {
              if (p.members[j].link == m.link) {
                fail(*link, wi + ".link",
                     "link '" + m.link + "' is listed twice (also members[" + std::to_string(j) + "])");
              }
            }
          });
        } else {
          report(mt.source(), wi + ": missing required key 'link'");
          ok = false;
        }
        if (auto* n = mt.get("tier")) ok &= guard([&] { m.tier = static_cast<int>(get_int(*n, wi + ".tier", 1, kMaxTier)); });
        if (auto* n = mt.get("weight")) {
          ok &= guard([&] { m.weight = static_cast<int>(get_int(*n, wi + ".weight", 1, kMaxWeight)); });
        }
        if (ok) p.members.push_back(std::move(m));
      });
    }
  });
  return p;
}

void Loader::load_rules(const toml::node& n, Config& c) {
  const auto& arr = want_array(n, "rules", false);
  std::map<std::string, size_t> names;
  std::optional<size_t> catch_all, catch_all_at;  // index in c.rules, index in the array
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string where = "rules[" + std::to_string(i) + "]";
    guard([&] {
      const toml::node& rn = *arr.get(i);
      if (!rn.is_table()) fail(rn, where, "expected a table ([[rules]]), got " + type_name(rn));
      const toml::table& t = *rn.as_table();
      size_t errors_before = diag_.count();
      RuleConfig r = load_rule(t, where, c);
      if (!r.name.empty()) {
        if (auto [it, fresh] = names.emplace(r.name, i); !fresh) {
          report(*t.get("name"), where + ".name",
                 "duplicate rule name '" + r.name + "' (first used by rules[" + std::to_string(it->second) +
                     "] at line " + std::to_string(arr.get(it->second)->source().begin.line) + ")");
        }
      }
      if (catch_all) {
        report(t.source(), where + ": unreachable: rule '" + r.name + "' follows catch-all rule '" +
                               c.rules[*catch_all].name + "' at line " +
                               std::to_string(arr.get(*catch_all_at)->source().begin.line));
      }
      // A rule whose match keys failed to parse may look like a catch-all: do not call it one.
      if (!catch_all && r.is_catch_all() && diag_.count() == errors_before) {
        catch_all = c.rules.size();
        catch_all_at = i;
      }
      c.rules.push_back(std::move(r));
    });
  }
}

RuleConfig Loader::load_rule(const toml::table& t, const std::string& where, const Config& c) {
  check_keys(t, Section::rule, where);
  auto w = [&](std::string_view k) { return SectionContext::join(where, k); };
  RuleConfig r;
  if (auto* name = t.get("name")) {
    guard([&] {
      std::string s = get_string(*name, w("name"));
      if (!valid_name(s)) fail(*name, w("name"), "invalid rule name '" + s + "' (1..32 letters, digits, '_' or '-')");
      r.name = s;
    });
  } else {
    report(t.source(), where + ": missing required key 'name'");
  }
  bool source_ok = read_key(t, "source", [&](const toml::node& n) { r.source = get_prefix(n, w("source")); });
  read_key(t, "destination", [&](const toml::node& n) {
    r.destination = get_prefix(n, w("destination"));
    if (source_ok && r.source && r.source->addr.family != r.destination->addr.family) {
      fail(n, w("destination"), "source and destination are of different address families");
    }
  });
  bool protocol_ok = read_key(t, "protocol", [&](const toml::node& n) {
    std::string s = get_string(n, w("protocol"));
    if (s != "tcp" && s != "udp" && s != "icmp" && s != "icmpv6") {
      fail(n, w("protocol"), "unknown protocol '" + s + "' (valid: tcp | udp | icmp | icmpv6)");
    }
    r.protocol = s;
  });
  for (auto [k, out] : {std::pair{"source_port", &r.source_ports}, std::pair{"destination_port", &r.destination_ports}}) {
    read_key(t, k, [&, k = k, out = out](const toml::node& n) {
      if (protocol_ok && r.protocol != "tcp" && r.protocol != "udp") {
        fail(n, w(k), "ports need protocol = \"tcp\" or \"udp\"");
      }
      *out = get_ports(n, w(k));
    });
  }
  bool iface_ok =
      read_key(t, "input_interface", [&](const toml::node& n) { r.input_interface = get_interface(n, w("input_interface")); });
  read_key(t, "local", [&](const toml::node& n) {
    r.local = get_bool(n, w("local"));
    if (r.local && iface_ok && t.contains("input_interface")) {
      fail(n, w("local"),
           "router-originated traffic has no input interface: set local or input_interface, not both");
    }
  });
  if (auto* policy = t.get("policy")) {
    guard([&] {
      r.policy = get_string(*policy, w("policy"));
      if (!c.policies.count(r.policy) && !declared_policies_.count(r.policy)) {
        fail(*policy, w("policy"),
             "policy '" + r.policy + "' does not exist" + defined_list(c.policy_order, "policies"));
      }
    });
  } else {
    report(t.source(), where + ": missing required key 'policy'");
  }
  read_key(t, "sticky", [&](const toml::node& n) { r.sticky = get_duration(n, w("sticky")); });
  return r;
}

}  // namespace uplink
