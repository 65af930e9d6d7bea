#include "config/writer.h"

#include <cstdio>

#include "common/units.h"

namespace uplink {

namespace {

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

std::string target_text(const ProbeTarget& t, ProbeMethod m) {
  if (!t.original.empty()) return t.original;
  std::string a = t.address.to_string();
  if (t.port == 0 || t.port == default_probe_port(m)) return a;
  return (t.address.is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(t.port);
}

std::string ports_text(const std::vector<PortRange>& ports) {
  auto one = [](const PortRange& p) {
    return p.first == p.last ? std::to_string(p.first)
                             : "\"" + std::to_string(p.first) + "-" + std::to_string(p.last) + "\"";
  };
  if (ports.size() == 1) return one(ports[0]);
  std::string out = "[";
  for (size_t i = 0; i < ports.size(); ++i) out += (i ? ", " : "") + one(ports[i]);
  return out + "]";
}

class Writer {
 public:
  void line(std::string_view key, const std::string& value) { out_ += std::string(key) + " = " + value + "\n"; }
  void header(const std::string& h) { out_ += (out_.empty() ? "" : "\n") + h + "\n"; }
  // Lines as given (a link extension's keys), each ending in a newline.
  void lines(std::string text) {
    if (text.empty()) return;
    if (text.back() != '\n') text += '\n';
    out_ += text;
  }
  // A block of its own (a module section), after a blank line.
  void block(const std::string& text) {
    if (text.empty()) return;
    out_ += "\n";
    lines(text);
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

}  // namespace

std::string to_toml(const Config& c, bool mask_secrets) {
  Writer w;
  w.text() = "# Effective configuration of uplinkd (defaults and automatic ids filled in).\n";
  const DaemonConfig& d = c.daemon;
  w.header("[daemon]");
  w.line("socket", toml_quote(d.socket));
  if (!d.socket_group.empty()) w.line("socket_group", toml_quote(d.socket_group));
  if (!d.admin_group.empty()) w.line("admin_group", toml_quote(d.admin_group));
  if (!d.metrics_listen.empty()) w.line("metrics_listen", toml_quote(d.metrics_listen));
  w.line("state_dir", toml_quote(d.state_dir));
  w.line("hooks_dir", toml_quote(d.hooks_dir));
  w.line("hook_timeout", toml_quote(format_duration(d.hook_timeout)));
  w.line("log_level", toml_quote(d.log_level));
  w.line("table_base", std::to_string(d.table_base));
  w.line("fwmark_base", hex(d.fwmark_base));
  w.line("fwmark_mask", hex(d.fwmark_mask));
  w.line("rule_priority_base", std::to_string(d.rule_priority_base));
  w.line("fail_closed", d.fail_closed ? "true" : "false");

  for (const auto& name : c.link_order) {
    const LinkConfig& l = c.links.at(name);
    std::string h = "links." + toml_key(name);
    w.header("[" + h + "]");
    w.line("kind", toml_quote(to_string(l.kind)));
    w.line("interface", toml_quote(l.interface));
    if (l.gateway) w.line("gateway", toml_quote(l.gateway->to_string()));
    if (l.gateway6) w.line("gateway6", toml_quote(l.gateway6->to_string()));
    w.line("metered", l.metered ? "true" : "false");
    w.line("enabled", l.enabled ? "true" : "false");
    w.line("table", std::to_string(l.table));
    w.line("fwmark", hex(l.fwmark));
    if (l.kind == LinkKind::cellular) {
      w.line("modem", toml_quote(l.modem));
      if (!l.apn.empty()) w.line("apn", toml_quote(l.apn));
      w.line("sim_slot", std::to_string(l.sim_slot));
      std::vector<std::string> routes;
      for (const auto& p : l.private_routes) routes.push_back(p.to_string());
      if (!routes.empty()) w.line("private_routes", toml_string_array(routes));
    }
    if (l.extension) w.lines(l.extension->to_toml(mask_secrets));
    const ProbeConfig& p = l.probe;
    w.header("[" + h + ".probe]");
    w.line("method", toml_quote(to_string(p.method)));
    std::vector<std::string> targets;
    for (const auto& t : p.targets) targets.push_back(target_text(t, p.method));
    w.line("targets", toml_string_array(targets));
    w.line("reliability", std::to_string(p.reliability));
    w.line("interval", toml_quote(format_duration(p.interval)));
    w.line("fast_interval", toml_quote(format_duration(p.fast_interval)));
    w.line("timeout", toml_quote(p.timeout ? format_duration(*p.timeout) : "auto"));
    w.line("down_after", std::to_string(p.down_after));
    w.line("up_after", std::to_string(p.up_after));
    if (p.method == ProbeMethod::http) w.line("http_path", toml_quote(p.http_path));
    if (p.method == ProbeMethod::dns) w.line("dns_name", toml_quote(p.dns_name));
    if (p.source) w.line("source", toml_quote(p.source->to_string()));
    const std::string ext_quality = l.extension ? l.extension->quality_toml() : std::string();
    if (l.quality || !ext_quality.empty()) w.header("[" + h + ".quality]");
    if (l.quality) {
      const QualityConfig& q = *l.quality;
      if (q.max_latency) w.line("max_latency", toml_quote(format_duration(*q.max_latency)));
      if (q.max_loss) w.line("max_loss", toml_float(*q.max_loss));
      if (q.max_jitter) w.line("max_jitter", toml_quote(format_duration(*q.max_jitter)));
      w.line("recover_ratio", toml_float(q.recover_ratio));
    }
    if (!ext_quality.empty()) w.lines(ext_quality);
  }

  for (const auto& name : c.policy_order) {
    const PolicyConfig& p = c.policies.at(name);
    w.header("[policies." + toml_key(name) + "]");
    w.line("mode", toml_quote(to_string(p.mode)));
    std::string members = "[\n";
    for (const auto& m : p.members) {
      members += "  { link = " + toml_quote(m.link) + ", tier = " + std::to_string(m.tier) +
                 ", weight = " + std::to_string(m.weight) + " },\n";
    }
    w.line("members", members + "]");
    w.line("last_resort", toml_quote(to_string(p.last_resort)));
    if (p.is_private) w.line("private", "true");
  }

  for (const auto& r : c.rules) {
    w.header("[[rules]]");
    w.line("name", toml_quote(r.name));
    if (r.source) w.line("source", toml_quote(r.source->to_string()));
    if (r.destination) w.line("destination", toml_quote(r.destination->to_string()));
    if (r.protocol) w.line("protocol", toml_quote(*r.protocol));
    if (!r.source_ports.empty()) w.line("source_port", ports_text(r.source_ports));
    if (!r.destination_ports.empty()) w.line("destination_port", ports_text(r.destination_ports));
    if (r.input_interface) w.line("input_interface", toml_quote(*r.input_interface));
    if (r.local) w.line("local", "true");
    w.line("policy", toml_quote(r.policy));
    if (r.sticky) w.line("sticky", toml_quote(format_duration(*r.sticky)));
  }

  // Module sections last: they may hold [[arrays]] and sub-tables of their own.
  for (const auto& [name, value] : c.sections) {
    if (value) w.block(value->to_toml(mask_secrets));
  }
  return w.text();
}

}  // namespace uplink
