#include "cellular/cellular_config.h"

#include <algorithm>
#include <set>

#include "common/units.h"
#include "config/section.h"
#include "config/toml_text.h"

namespace uplink {

std::string_view to_string(IpType t) {
  switch (t) {
    case IpType::ipv4: return "ipv4";
    case IpType::ipv6: return "ipv6";
    case IpType::ipv4v6: return "ipv4v6";
  }
  return "ipv4v6";
}

bool CellularLink::equals(const SectionValue& other) const {
  auto* o = dynamic_cast<const CellularLink*>(&other);
  return o && o->apn_user == apn_user && o->apn_password == apn_password && o->sim_pin == sim_pin &&
         o->ip_type == ip_type && o->roaming == roaming && o->sim == sim && o->reconnect == reconnect &&
         o->radio == radio;
}

std::string CellularLink::to_toml(bool mask) const {
  auto dur = [](Duration d) { return toml_quote(format_duration(d)); };
  std::string out;
  if (!apn_user.empty()) out += "apn_user = " + toml_quote(apn_user) + "\n";
  if (!apn_password.value.empty()) out += "apn_password = " + apn_password.to_toml(mask) + "\n";
  if (sim_pin) out += "sim_pin = " + sim_pin->to_toml(mask) + "\n";
  out += "ip_type = " + toml_quote(to_string(ip_type)) + "\n";
  out += std::string("roaming = ") + (roaming ? "true" : "false") + "\n";
  if (sim) {
    std::string slots;
    for (int s : sim->slots) slots += (slots.empty() ? "" : ", ") + std::to_string(s);
    out += "sim = { slots = [" + slots + "], switch_after = " + dur(sim->switch_after) +
           ", connect_timeout = " + dur(sim->connect_timeout) + ", min_dwell = " + dur(sim->min_dwell) +
           ", max_switches_per_hour = " + std::to_string(sim->max_switches_per_hour) +
           ", return_after = " + dur(sim->return_after) + " }\n";
  }
  out += "reconnect = { backoff_initial = " + dur(reconnect.backoff_initial) + ", backoff_max = " +
         dur(reconnect.backoff_max) + ", reset_after = " + std::to_string(reconnect.reset_after) + " }\n";
  return out;
}

std::string CellularLink::quality_toml() const {
  std::string out;
  if (radio.min_signal) out += "min_signal = " + std::to_string(*radio.min_signal) + "\n";
  if (radio.min_rsrp) out += "min_rsrp = " + toml_float(*radio.min_rsrp) + "\n";
  if (radio.min_sinr) out += "min_sinr = " + toml_float(*radio.min_sinr) + "\n";
  return out;
}

const CellularLink& cellular_of(const LinkConfig& link) {
  static const CellularLink defaults;
  const auto* c = link.extension_as<CellularLink>();
  return c ? *c : defaults;
}

namespace {

std::optional<SimFailoverConfig> parse_sim(const toml::table& t, const std::string& path, SectionContext& ctx) {
  ctx.check_keys(t, path,
                 {"slots", "switch_after", "connect_timeout", "min_dwell", "max_switches_per_hour", "return_after"});
  SimFailoverConfig s;
  const size_t before = ctx.error_count();
  if (const toml::node* n = t.get("slots"); n && n->is_array()) {
    const toml::array& a = *n->as_array();
    std::set<int> seen;
    for (size_t i = 0; i < a.size(); ++i) {
      const std::string at = path + ".slots[" + std::to_string(i) + "]";
      auto v = a.get(i)->value<int64_t>();
      if (!a.get(i)->is_integer() || !v || *v < 1 || *v > 8) {
        ctx.error(*a.get(i), at, "a SIM slot is a number from 1 to 8");
        continue;
      }
      if (!seen.insert(int(*v)).second) {
        ctx.error(*a.get(i), at, "slot " + std::to_string(*v) + " is listed twice");
        continue;
      }
      s.slots.push_back(int(*v));
    }
    if (a.size() < 2 && ctx.error_count() == before)
      ctx.error(*n, path + ".slots", "SIM-slot failover needs at least two slots");
  } else if (n) {
    ctx.error(*n, path + ".slots", "expected an array of slot numbers, e.g. [1, 2]");
  } else {
    ctx.error_at_key(t, "slots", path + ".slots", "missing required key 'slots' (e.g. [1, 2])");
  }
  if (auto v = ctx.get_duration(t, "switch_after", path)) s.switch_after = *v;
  if (auto v = ctx.get_duration(t, "connect_timeout", path)) s.connect_timeout = *v;
  if (auto v = ctx.get_duration(t, "min_dwell", path, false, /*allow_zero=*/true)) s.min_dwell = *v;
  if (auto v = ctx.get_int(t, "max_switches_per_hour", path, 1, 60)) s.max_switches_per_hour = int(*v);
  if (auto v = ctx.get_duration(t, "return_after", path, false, /*allow_zero=*/true)) s.return_after = *v;
  return s;
}

std::shared_ptr<const SectionValue> parse_cellular_link(const toml::table& t, const std::string& path,
                                                        SectionContext& ctx) {
  auto c = std::make_shared<CellularLink>();
  if (auto v = ctx.get_string(t, "apn_user", path)) {
    if (v->size() > 64) ctx.error_at_key(t, "apn_user", path + ".apn_user", "at most 64 characters");
    c->apn_user = *v;
  }
  if (auto v = ctx.get_secret(t, "apn_password", path)) c->apn_password = *v;
  if (t.contains("apn_password") && !t.contains("apn_user"))
    ctx.error_at_key(t, "apn_password", path + ".apn_password", "apn_password needs apn_user");
  if (auto v = ctx.get_secret(t, "sim_pin", path)) {
    const std::string& pin = v->value;
    if (pin.size() < 4 || pin.size() > 8 || !std::all_of(pin.begin(), pin.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      ctx.error_at_key(t, "sim_pin", path + ".sim_pin", "a SIM PIN is 4 to 8 digits");  // never echo it
    else
      c->sim_pin = *v;
  }
  if (auto v = ctx.get_string(t, "ip_type", path)) {
    if (*v == "ipv4") c->ip_type = IpType::ipv4;
    else if (*v == "ipv6") c->ip_type = IpType::ipv6;
    else if (*v == "ipv4v6") c->ip_type = IpType::ipv4v6;
    else ctx.error_at_key(t, "ip_type", path + ".ip_type", "unknown ip_type '" + *v + "' (valid: ipv4 | ipv6 | ipv4v6)");
  }
  if (auto v = ctx.get_bool(t, "roaming", path)) c->roaming = *v;
  if (const toml::table* s = ctx.get_table(t, "sim", path)) {
    c->sim = parse_sim(*s, path + ".sim", ctx);
    const toml::node* at = s->get("slots") ? s->get("slots") : static_cast<const toml::node*>(s);
    c->sim_line = int(at->source().begin.line);
    c->sim_column = int(at->source().begin.column);
  }
  if (const toml::table* r = ctx.get_table(t, "reconnect", path)) {
    const std::string rp = path + ".reconnect";
    ctx.check_keys(*r, rp, {"backoff_initial", "backoff_max", "reset_after"});
    if (auto v = ctx.get_duration(*r, "backoff_initial", rp)) c->reconnect.backoff_initial = *v;
    if (auto v = ctx.get_duration(*r, "backoff_max", rp)) c->reconnect.backoff_max = *v;
    if (auto v = ctx.get_int(*r, "reset_after", rp, 1, 100)) c->reconnect.reset_after = int(*v);
    if (c->reconnect.backoff_max < c->reconnect.backoff_initial)
      ctx.error_at_key(*r, "backoff_max", rp + ".backoff_max",
                       format_duration(c->reconnect.backoff_max) + " is shorter than backoff_initial (" +
                           format_duration(c->reconnect.backoff_initial) + ")");
  }
  // Radio thresholds inside [links.NAME.quality] (the core checked the key names).
  if (const toml::node* qn = t.get("quality"); qn && qn->is_table()) {
    const toml::table& q = *qn->as_table();
    const std::string qp = path + ".quality";
    if (auto v = ctx.get_int(q, "min_signal", qp, 0, 100)) c->radio.min_signal = int(*v);
    if (auto v = ctx.get_number(q, "min_rsrp", qp)) {
      if (*v < -156 || *v > -31) ctx.error_at_key(q, "min_rsrp", qp + ".min_rsrp", "RSRP is within -156..-31 dBm");
      else c->radio.min_rsrp = *v;
    }
    if (auto v = ctx.get_number(q, "min_sinr", qp)) {
      if (*v < -20 || *v > 40) ctx.error_at_key(q, "min_sinr", qp + ".min_sinr", "SINR is within -20..40 dB");
      else c->radio.min_sinr = *v;
    }
  }
  return c;
}

void validate_cellular_link(const Config&, const LinkConfig& link, SectionContext& ctx) {
  const CellularLink& c = cellular_of(link);
  if (c.sim && link.sim_slot != 0 && !c.sim->slots.empty() && c.sim->slots.front() != link.sim_slot)
    ctx.error_at(c.sim_line, c.sim_column, "links." + link.name + ".sim.slots",
                 "the preferred slot (first) is " + std::to_string(c.sim->slots.front()) + " but sim_slot is " +
                     std::to_string(link.sim_slot) + ": set one of them");
}

}  // namespace

void register_cellular_config(SectionRegistry& registry) {
  registry.add(LinkExtensionSpec{
      .kind = "cellular",
      .keys = {"apn_user", "apn_password", "sim_pin", "ip_type", "roaming", "sim", "reconnect"},
      .quality_keys = {"min_signal", "min_rsrp", "min_sinr"},
      .parse = parse_cellular_link,
      .validate = validate_cellular_link});
}

}  // namespace uplink
