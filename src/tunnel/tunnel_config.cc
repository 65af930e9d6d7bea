#include "tunnel/tunnel_config.h"

#include <net/if.h>

#include <algorithm>
#include <set>

#include "common/marks.h"
#include "common/units.h"
#include "config/section.h"
#include "config/toml_text.h"

namespace uplink {

std::string_view to_string(WgBackendChoice b) {
  switch (b) {
    case WgBackendChoice::automatic: return "auto";
    case WgBackendChoice::kernel: return "kernel";
    case WgBackendChoice::wireguard_go: return "wireguard-go";
  }
  return "auto";
}

WgDeviceSpec TunnelConfig::device_spec() const {
  WgDeviceSpec d;
  d.private_key = private_key.value;
  d.listen_port = listen_port;
  d.fwmark = fwmark;
  for (const auto& p : peers) {
    WgPeerSpec s;
    s.public_key = p.public_key;
    s.endpoint = p.endpoint;
    s.allowed_ips = p.allowed_ips;
    s.persistent_keepalive_s =
        p.persistent_keepalive ? int(std::chrono::duration_cast<std::chrono::seconds>(*p.persistent_keepalive).count())
                               : 0;
    d.peers.push_back(std::move(s));
  }
  return d;
}

bool TunnelsSection::equals(const SectionValue& other) const {
  auto* o = dynamic_cast<const TunnelsSection*>(&other);
  if (!o || o->order != order || o->tunnels.size() != tunnels.size()) return false;
  for (const auto& [name, t] : tunnels) {
    auto it = o->tunnels.find(name);
    if (it == o->tunnels.end() || it->second != t) return false;
  }
  return true;
}

namespace {

std::string prefixes_toml(const std::vector<IpPrefix>& v) {
  std::vector<std::string> s;
  for (const auto& p : v) s.push_back(p.to_string());
  return toml_string_array(s);
}

}  // namespace

std::string TunnelsSection::to_toml(bool mask) const {
  std::string out;
  for (const auto& name : order) {
    const TunnelConfig& t = tunnels.at(name);
    out += "[tunnels." + toml_key(name) + "]\n";
    out += "interface = " + toml_quote(t.interface) + "\n";
    out += "backend = " + toml_quote(to_string(t.backend)) + "\n";
    out += "private_key = " + t.private_key.to_toml(mask) + "\n";
    if (t.listen_port) out += "listen_port = " + std::to_string(*t.listen_port) + "\n";
    std::vector<std::string> addrs;
    for (const auto& a : t.address) addrs.push_back(a.to_string());
    out += "address = " + toml_string_array(addrs) + "\n";
    out += "underlay = " + toml_quote(t.underlay) + "\n";
    if (t.fwmark_set) out += "fwmark = " + std::to_string(*t.fwmark_set) + "\n";
    for (const auto& p : t.peers) {
      out += "[[tunnels." + toml_key(name) + ".peers]]\n";
      out += "public_key = " + toml_quote(p.public_key) + "\n";
      if (p.endpoint) out += "endpoint = " + toml_quote(p.endpoint->to_string()) + "\n";
      out += "allowed_ips = " + prefixes_toml(p.allowed_ips) + "\n";
      if (p.persistent_keepalive)
        out += "persistent_keepalive = " + toml_quote(format_duration(*p.persistent_keepalive)) + "\n";
    }
  }
  return out;
}

bool WireguardLink::equals(const SectionValue& other) const {
  auto* o = dynamic_cast<const WireguardLink*>(&other);
  return o && o->tunnel == tunnel;
}

std::string WireguardLink::to_toml(bool) const { return "tunnel = " + toml_quote(tunnel) + "\n"; }

const LinkConfig* link_of_tunnel(const Config& c, const std::string& tunnel) {
  for (const auto& name : c.link_order) {
    const LinkConfig& l = c.links.at(name);
    if (l.kind != LinkKind::wireguard) continue;
    if (const auto* w = l.extension_as<WireguardLink>(); w && w->tunnel == tunnel) return &l;
  }
  return nullptr;
}

std::optional<uint32_t> derived_tunnel_mark(uint32_t mask, size_t index) {
  if (index >= 255) return std::nullopt;
  for (int shift : {16, 24, 0}) {
    if ((mask & (0xffu << shift)) == 0) return static_cast<uint32_t>(index + 1) << shift;
  }
  return std::nullopt;
}

namespace {

template <class Node>
void remember(const Node* n, int& line, int& column) {
  if (!n) return;
  line = int(n->source().begin.line);
  column = int(n->source().begin.column);
}

std::optional<IfAddress> parse_if_address(std::string_view text) {
  auto slash = text.find('/');
  std::string_view host = text.substr(0, slash);
  auto a = IpAddress::parse(host);
  if (!a) return std::nullopt;
  int max = a->is_v4() ? 32 : 128;
  int len = max;
  if (slash != std::string_view::npos) {
    std::string_view l = text.substr(slash + 1);
    if (l.empty() || l.size() > 3 || !std::all_of(l.begin(), l.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    len = std::stoi(std::string(l));
    if (len > max) return std::nullopt;
  }
  return IfAddress{*a, len};
}

void parse_key(const toml::table& t, std::string_view key, const std::string& path, SectionContext& ctx,
               std::string& out, bool secret_value, const std::string& value) {
  if (auto why = check_wg_key(value)) {
    // Never echo the key itself: it may be the private one.
    ctx.error_at_key(t, key, SectionContext::join(path, key), std::string(secret_value ? "the key " : "") + *why);
    return;
  }
  out = value;
}

std::optional<TunnelPeerConfig> parse_peer(const toml::table& p, const std::string& path, SectionContext& ctx) {
  ctx.check_keys(p, path, {"public_key", "endpoint", "allowed_ips", "persistent_keepalive"});
  TunnelPeerConfig peer;
  if (auto v = ctx.get_string(p, "public_key", path, /*required=*/true))
    parse_key(p, "public_key", path, ctx, peer.public_key, false, *v);
  if (auto v = ctx.get_string(p, "endpoint", path)) {
    auto e = parse_wg_endpoint(*v);
    if (!e) ctx.error_at_key(p, "endpoint", SectionContext::join(path, "endpoint"), e.error().message);
    else peer.endpoint = *e;
  }
  if (auto v = ctx.get_string_array(p, "allowed_ips", path)) {
    for (size_t i = 0; i < v->size(); ++i) {
      auto pr = IpPrefix::parse((*v)[i]);
      if (!pr) {
        const toml::node* at = p.get("allowed_ips");
        if (const auto* arr = at ? at->as_array() : nullptr; arr && i < arr->size()) at = arr->get(i);
        ctx.error(*at, SectionContext::join(path, "allowed_ips") + "[" + std::to_string(i) + "]",
                  pr.error().message);
      } else {
        peer.allowed_ips.push_back(*pr);
      }
    }
  }
  if (auto v = ctx.get_duration(p, "persistent_keepalive", path, false, /*allow_zero=*/true)) {
    if (*v % std::chrono::seconds(1) != Duration::zero() || *v > std::chrono::seconds(65535))
      ctx.error_at_key(p, "persistent_keepalive", SectionContext::join(path, "persistent_keepalive"),
                       "must be whole seconds between 0s and 65535s");
    else if (*v > Duration::zero())
      peer.persistent_keepalive = *v;
  }
  return peer;
}

std::optional<TunnelConfig> parse_tunnel(const std::string& name, const toml::node& node, size_t index,
                                         SectionContext& ctx) {
  const std::string path = "tunnels." + name;
  const toml::table* t = ctx.want_table(node, path);
  if (!t) return std::nullopt;
  ctx.check_keys(*t, path,
                 {"interface", "backend", "private_key", "listen_port", "address", "underlay", "fwmark", "peers"});
  TunnelConfig tc;
  tc.name = name;
  remember(t, tc.at.line, tc.at.column);
  if (auto v = ctx.get_string(*t, "interface", path, /*required=*/true)) {
    if (v->empty() || v->size() >= IFNAMSIZ || v->find_first_of("/ \t\n:") != std::string::npos || *v == "." ||
        *v == "..")
      ctx.error_at_key(*t, "interface", path + ".interface",
                       "'" + *v + "' is not a valid interface name (1-15 characters, no '/', ':' or spaces)");
    tc.interface = *v;
    remember(t->get("interface"), tc.at.interface_line, tc.at.interface_column);
  }
  if (auto v = ctx.get_string(*t, "backend", path)) {
    if (*v == "auto") tc.backend = WgBackendChoice::automatic;
    else if (*v == "kernel") tc.backend = WgBackendChoice::kernel;
    else if (*v == "wireguard-go") tc.backend = WgBackendChoice::wireguard_go;
    else ctx.error_at_key(*t, "backend", path + ".backend", "unknown backend '" + *v + "' (valid: auto | kernel | wireguard-go)");
  }
  if (auto v = ctx.get_secret(*t, "private_key", path, /*required=*/true)) {
    std::string dummy;
    size_t before = ctx.error_count();
    parse_key(*t, "private_key", path, ctx, dummy, true, v->value);
    if (ctx.error_count() == before) tc.private_key = *v;
  }
  if (auto v = ctx.get_int(*t, "listen_port", path, 1, 65535)) tc.listen_port = static_cast<uint16_t>(*v);
  if (auto v = ctx.get_string_array(*t, "address", path, /*required=*/true)) {
    for (size_t i = 0; i < v->size(); ++i) {
      auto a = parse_if_address((*v)[i]);
      if (!a)
        ctx.error_at_key(*t, "address", path + ".address[" + std::to_string(i) + "]",
                         "'" + (*v)[i] + "' is not an address with a prefix length (\"10.99.0.2/32\")");
      else
        tc.address.push_back(*a);
    }
  }
  if (auto v = ctx.get_string(*t, "underlay", path, /*required=*/true)) {
    tc.underlay = *v;
    remember(t->get("underlay"), tc.at.underlay_line, tc.at.underlay_column);
  }
  if (auto v = ctx.get_int(*t, "fwmark", path, 1, 0xffffffffLL)) {
    tc.fwmark_set = static_cast<uint32_t>(*v);
    tc.fwmark = *tc.fwmark_set;
    remember(t->get("fwmark"), tc.at.fwmark_line, tc.at.fwmark_column);
  } else if (!t->contains("fwmark")) {
    if (auto m = derived_tunnel_mark(ctx.core().daemon.fwmark_mask, index)) tc.fwmark = *m;
    else
      ctx.error_at(tc.at.line, tc.at.column, path,
                   "no free byte outside daemon.fwmark_mask for a derived tunnel mark: set fwmark");
  }
  if (auto peers = ctx.get_table_array(*t, "peers", path)) {
    for (size_t i = 0; i < peers->size(); ++i)
      if (auto p = parse_peer(*(*peers)[i], path + ".peers[" + std::to_string(i) + "]", ctx))
        tc.peers.push_back(std::move(*p));
  }
  return tc;
}

std::shared_ptr<const SectionValue> parse_tunnels(const toml::node& node, SectionContext& ctx) {
  const toml::table* t = ctx.want_table(node, "tunnels");
  if (!t) return nullptr;
  auto s = std::make_shared<TunnelsSection>();
  size_t index = 0;
  for (const auto& [k, v] : *t) {
    std::string name(k.str());
    if (auto tc = parse_tunnel(name, v, index++, ctx)) {
      s->order.push_back(name);
      s->tunnels.emplace(name, std::move(*tc));
    }
  }
  return s;
}

void validate_tunnels(const Config& c, SectionContext& ctx) {
  const auto* s = c.section<TunnelsSection>("tunnels");
  if (!s) return;
  auto layout = MarkLayout::from_mask(c.daemon.fwmark_mask);
  std::map<std::string, std::string> iface_owner;  // interface -> tunnel
  std::map<uint32_t, std::string> mark_owner;
  for (const auto& name : s->order) {
    const TunnelConfig& t = s->tunnels.at(name);
    const std::string path = "tunnels." + name;
    const LinkConfig* own = link_of_tunnel(c, name);
    // Interface: unique among tunnels, and no link but the tunnel's own may use it.
    if (!t.interface.empty()) {
      if (auto [it, fresh] = iface_owner.emplace(t.interface, name); !fresh)
        ctx.error_at(t.at.interface_line, t.at.interface_column, path + ".interface",
                     "interface '" + t.interface + "' is already used by tunnel '" + it->second + "'");
      for (const auto& [lname, l] : c.links)
        if (l.interface == t.interface && (!own || lname != own->name))
          ctx.error_at(t.at.interface_line, t.at.interface_column, path + ".interface",
                       "interface '" + t.interface + "' is already used by link '" + lname + "'");
    }
    // Underlay: an existing policy that does not carry the tunnel over itself.
    if (!t.underlay.empty()) {
      auto p = c.policies.find(t.underlay);
      if (p == c.policies.end()) {
        ctx.error_at(t.at.underlay_line, t.at.underlay_column, path + ".underlay",
                     "policy '" + t.underlay + "' does not exist");
      } else if (own) {
        for (const auto& m : p->second.members)
          if (m.link == own->name)
            ctx.error_at(t.at.underlay_line, t.at.underlay_column, path + ".underlay",
                         "policy '" + t.underlay + "' includes link '" + own->name +
                             "', the tunnel itself: its UDP cannot travel inside it");
      }
    }
    // Mark: outside daemon.fwmark_mask (never a link mark), unique among tunnels.
    if (t.fwmark_set && layout) {
      if (*t.fwmark_set & layout->mask)
        ctx.error_at(t.at.fwmark_line, t.at.fwmark_column, path + ".fwmark",
                     MarkLayout::hex(*t.fwmark_set) + " has bits inside daemon.fwmark_mask " +
                         MarkLayout::hex(layout->mask) + ", the link marks; use bits outside it");
    }
    if (t.fwmark) {
      if (auto [it, fresh] = mark_owner.emplace(t.fwmark & ~c.daemon.fwmark_mask, name); !fresh)
        ctx.error_at(t.at.fwmark_line ? t.at.fwmark_line : t.at.line, t.at.fwmark_line ? t.at.fwmark_column : t.at.column,
                     path + ".fwmark", "mark " + MarkLayout::hex(t.fwmark) + " is tunnel '" + it->second + "''s");
    }
  }
}

std::shared_ptr<const SectionValue> parse_wireguard_link(const toml::table& t, const std::string& link_path,
                                                         SectionContext& ctx) {
  auto w = std::make_shared<WireguardLink>();
  if (auto v = ctx.get_string(t, "tunnel", link_path, /*required=*/true)) {
    w->tunnel = *v;
    remember(t.get("tunnel"), w->line, w->column);
    return w;
  }
  return nullptr;
}

void validate_wireguard_link(const Config& c, const LinkConfig& link, SectionContext& ctx) {
  const auto* w = link.extension_as<WireguardLink>();
  if (!w) return;
  const std::string path = "links." + link.name + ".tunnel";
  const auto* s = c.section<TunnelsSection>("tunnels");
  auto it = s ? s->tunnels.find(w->tunnel) : decltype(s->tunnels.end()){};
  if (!s || it == s->tunnels.end()) {
    ctx.error_at(w->line, w->column, path, "tunnel '" + w->tunnel + "' is not configured in [tunnels]");
    return;
  }
  if (const LinkConfig* first = link_of_tunnel(c, w->tunnel); first && first->name != link.name)
    ctx.error_at(w->line, w->column, path, "tunnel '" + w->tunnel + "' is already carried by another link");
  if (!it->second.interface.empty() && link.interface != it->second.interface)
    ctx.error_at(w->line, w->column, path,
                 "link interface '" + link.interface + "' is not the tunnel's interface '" + it->second.interface + "'");
}

}  // namespace

void register_tunnel_config(SectionRegistry& registry) {
  registry.add(SectionSpec{.name = "tunnels", .parse = parse_tunnels, .absent = {}, .validate = validate_tunnels});
  registry.add(LinkExtensionSpec{
      .kind = "wireguard", .keys = {"tunnel"}, .parse = parse_wireguard_link, .validate = validate_wireguard_link});
}

}  // namespace uplink
