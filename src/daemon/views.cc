#include "daemon/views.h"
#include "common/strings.h"

#include <unistd.h>

#include <cstdio>
#include <variant>

#include "common/units.h"

namespace uplink {

namespace {

Json opt(const std::optional<double>& v) { return v ? Json(*v) : Json(); }

std::string ports_text(const std::vector<PortRange>& ports) {
  std::string s;
  for (const auto& p : ports) {
    if (!s.empty()) s += ",";
    s += std::to_string(p.first);
    if (p.last != p.first) s += "-" + std::to_string(p.last);
  }
  return s;
}


std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

Json link_json(const LinkConfig& c, const LinkEntry& rt) {
  return Json{{"name", c.name},
              {"kind", std::string(to_string(c.kind))},
              {"interface", c.interface},
              {"state", std::string(to_string(rt.state))},
              {"since", format_wall_time(rt.since)},
              {"reason", rt.reason},
              {"latency_ms", opt(rt.quality.latency_ms)},
              {"jitter_ms", opt(rt.quality.jitter_ms)},
              {"loss_pct", opt(rt.quality.loss_pct)},
              {"table", c.table},
              {"fwmark", c.fwmark},
              {"gateway", c.gateway ? Json(c.gateway->to_string()) : Json()},
              {"metered", c.metered},
              {"enabled", c.enabled}};
}

Json link_detail_json(const LinkConfig& c, const LinkEntry& rt) {
  Json j = link_json(c, rt);
  Json targets = Json::array();
  for (const auto& t : c.probe.targets) targets.push_back(t.original.empty() ? t.address.to_string() : t.original);
  Json probe{{"method", std::string(to_string(c.probe.method))},
             {"targets", targets},
             {"reliability", c.probe.reliability},
             {"interval", format_duration(c.probe.interval)},
             {"fast_interval", format_duration(c.probe.fast_interval)},
             {"timeout", c.probe.timeout ? format_duration(*c.probe.timeout) : "auto"},
             {"down_after", c.probe.down_after},
             {"up_after", c.probe.up_after}};
  Json quality;
  if (c.quality) {
    const auto& q = *c.quality;
    quality = Json{{"max_latency", q.max_latency ? Json(format_duration(*q.max_latency)) : Json()},
                   {"max_loss", opt(q.max_loss)},
                   {"max_jitter", q.max_jitter ? Json(format_duration(*q.max_jitter)) : Json()},
                   {"recover_ratio", q.recover_ratio}};
  }
  Json cfg{{"probe", probe}, {"quality", quality}};
  if (c.kind == LinkKind::cellular) {
    Json routes = Json::array();
    for (const auto& p : c.private_routes) routes.push_back(p.to_string());
    cfg["cellular"] = Json{{"modem", c.modem}, {"apn", c.apn}, {"sim_slot", c.sim_slot}, {"private_routes", routes}};
  }
  j["config"] = cfg;
  j["transitions"] = rt.transitions;
  return j;
}

Json policy_json(const PolicyConfig& c, const PolicyRuntime& rt) {
  Json members = Json::array();
  for (const auto& m : c.members) members.push_back(Json{{"link", m.link}, {"tier", m.tier}, {"weight", m.weight}});
  return Json{{"name", c.name},
              {"mode", std::string(to_string(c.mode))},
              {"active", rt.active},
              {"members", members},
              {"last_resort", std::string(to_string(c.last_resort))}};
}

Json rule_json(const RuleConfig& r) {
  auto s = [](const auto& o) { return o ? Json(o->to_string()) : Json(); };
  return Json{{"name", r.name},
              {"policy", r.policy},
              {"source", s(r.source)},
              {"destination", s(r.destination)},
              {"protocol", r.protocol ? Json(*r.protocol) : Json()},
              {"source_port", r.source_ports.empty() ? Json() : Json(ports_text(r.source_ports))},
              {"destination_port", r.destination_ports.empty() ? Json() : Json(ports_text(r.destination_ports))},
              {"input_interface", r.input_interface ? Json(*r.input_interface) : Json()},
              {"local", r.local},
              {"sticky", r.sticky ? Json(format_duration(*r.sticky)) : Json()}};
}

Json links_json(const Daemon& d) {
  Json arr = Json::array();
  for (const auto& name : d.config().link_order) {
    arr.push_back(link_json(d.config().links.at(name), d.links().at(name)));
  }
  return arr;
}

Json status_json(const Daemon& d) {
  Json policies = Json::array();
  static const PolicyRuntime kNone;
  for (const auto& name : d.config().policy_order) {
    auto it = d.policies().find(name);
    policies.push_back(policy_json(d.config().policies.at(name), it == d.policies().end() ? kNone : it->second));
  }
  Json status{{"daemon",
               {{"version", UPLINK_VERSION},
                {"pid", static_cast<int>(::getpid())},
                {"config", d.config_path()},
                {"started", format_wall_time(d.started())}}},
              {"links", links_json(d)},
              {"policies", policies}};
  for (const Module* m : d.modules()) m->add_status(status);
  return status;
}

std::string metrics_text(const Daemon& d, const std::string& extra) {
  std::string out;
  auto help = [&](const char* name, const char* type, const char* text) {
    out += std::string("# HELP ") + name + " " + text + "\n# TYPE " + name + " " + type + "\n";
  };
  out += "# HELP uplink_info Build information.\n# TYPE uplink_info gauge\n";
  out += std::string("uplink_info{version=\"") + UPLINK_VERSION + "\"} 1\n";

  help("uplink_link_state", "gauge", "1 for the link's current state, 0 for the others.");
  for (const auto& name : d.config().link_order) {
    const auto& rt = d.links().at(name);
    for (LinkState s : {LinkState::unknown, LinkState::up, LinkState::degraded, LinkState::down, LinkState::disabled}) {
      out += "uplink_link_state{link=\"" + prometheus_label(name) + "\",state=\"" + std::string(to_string(s)) + "\"} " +
             (rt.state == s ? "1" : "0") + "\n";
    }
  }
  struct Measure {
    const char* metric;
    const char* text;
    std::optional<double> LinkQuality::*field;
  };
  for (const Measure& m : {Measure{"uplink_link_latency_ms", "Smoothed probe round-trip time.", &LinkQuality::latency_ms},
                           Measure{"uplink_link_jitter_ms", "Probe jitter (RFC 3550).", &LinkQuality::jitter_ms},
                           Measure{"uplink_link_loss_pct", "Probe loss over the window.", &LinkQuality::loss_pct}}) {
    help(m.metric, "gauge", m.text);
    for (const auto& name : d.config().link_order) {
      const auto& v = d.links().at(name).quality.*m.field;
      if (v) out += std::string(m.metric) + "{link=\"" + prometheus_label(name) + "\"} " + number(*v) + "\n";
    }
  }
  help("uplink_link_transitions_total", "counter", "State changes since the link was configured.");
  for (const auto& name : d.config().link_order) {
    out += "uplink_link_transitions_total{link=\"" + prometheus_label(name) + "\"} " +
           std::to_string(d.links().at(name).transitions) + "\n";
  }
  help("uplink_policy_active_links", "gauge", "Links a policy currently uses.");
  for (const auto& name : d.config().policy_order) {
    auto it = d.policies().find(name);
    size_t n = it == d.policies().end() ? 0 : it->second.active.size();
    out += "uplink_policy_active_links{policy=\"" + prometheus_label(name) + "\"} " + std::to_string(n) + "\n";
  }
  help("uplink_policy_changes_total", "counter", "Changes of a policy's active links since it was configured.");
  for (const auto& name : d.config().policy_order) {
    auto it = d.policies().find(name);
    uint64_t n = it == d.policies().end() ? 0 : it->second.changes;
    out += "uplink_policy_changes_total{policy=\"" + prometheus_label(name) + "\"} " + std::to_string(n) + "\n";
  }
  const auto& c = d.counters();
  help("uplink_config_reloads_total", "counter", "Configuration reloads by result.");
  out += "uplink_config_reloads_total{result=\"ok\"} " + std::to_string(c.reloads_ok) + "\n";
  out += "uplink_config_reloads_total{result=\"error\"} " + std::to_string(c.reloads_failed) + "\n";
  help("uplink_config_edits_total", "counter", "Configuration edits through uplinkctl by result.");
  out += "uplink_config_edits_total{result=\"ok\"} " + std::to_string(c.edits_ok) + "\n";
  out += "uplink_config_edits_total{result=\"error\"} " + std::to_string(c.edits_failed) + "\n";
  help("uplink_events_total", "counter", "Events published on the stream (link, policy and module events).");
  out += "uplink_events_total " + std::to_string(d.events().streamed()) + "\n";
  out += extra;
  for (const Module* m : d.modules()) m->add_metrics(out);
  return out;
}

}  // namespace uplink
