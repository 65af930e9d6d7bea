#include "config/diff.h"

#include <algorithm>

namespace uplink {

namespace {

std::vector<std::string> link_fields(const LinkConfig& a, const LinkConfig& b) {
  std::vector<std::string> f;
  auto add = [&](bool differs, const char* name) {
    if (differs) f.emplace_back(name);
  };
  add(a.kind != b.kind, "kind");
  add(a.interface != b.interface, "interface");
  add(a.gateway != b.gateway, "gateway");
  add(a.gateway6 != b.gateway6, "gateway6");
  add(a.metered != b.metered, "metered");
  add(a.enabled != b.enabled, "enabled");
  add(a.table != b.table, "table");
  add(a.fwmark != b.fwmark, "fwmark");
  add(a.probe != b.probe, "probe");
  add(a.quality != b.quality, "quality");
  add(a.modem != b.modem, "modem");
  add(a.apn != b.apn, "apn");
  add(a.sim_slot != b.sim_slot, "sim_slot");
  add(a.private_routes != b.private_routes, "private_routes");
  add(!same_section(a.extension, b.extension), "extension");
  return f;
}

std::vector<std::string> policy_fields(const PolicyConfig& a, const PolicyConfig& b) {
  std::vector<std::string> f;
  if (a.mode != b.mode) f.emplace_back("mode");
  if (a.members != b.members) f.emplace_back("members");
  if (a.last_resort != b.last_resort) f.emplace_back("last_resort");
  if (a.is_private != b.is_private) f.emplace_back("private");
  return f;
}

// Added / removed / changed over two name-keyed maps with file order vectors.
template <class T, class FieldsFn>
void diff_named(const std::map<std::string, T>& before, const std::vector<std::string>& before_order,
                const std::map<std::string, T>& after, const std::vector<std::string>& after_order,
                const std::string& prefix, FieldsFn fields_of, std::vector<std::string>& added,
                std::vector<std::string>& removed, std::vector<std::string>& changed,
                std::map<std::string, std::vector<std::string>>& fields) {
  for (const auto& name : after_order) {
    auto it = before.find(name);
    if (it == before.end()) {
      added.push_back(name);
      continue;
    }
    auto f = fields_of(it->second, after.at(name));
    if (!f.empty()) {
      changed.push_back(name);
      fields[prefix + name] = std::move(f);
    }
  }
  for (const auto& name : before_order) {
    if (!after.count(name)) removed.push_back(name);
  }
}

}  // namespace

ConfigDiff diff_configs(const Config& before, const Config& after) {
  ConfigDiff d;
  diff_named(before.links, before.link_order, after.links, after.link_order, "links.", link_fields, d.links_added,
             d.links_removed, d.links_changed, d.fields);
  diff_named(before.policies, before.policy_order, after.policies, after.policy_order, "policies.", policy_fields,
             d.policies_added, d.policies_removed, d.policies_changed, d.fields);
  d.rules_changed = before.rules != after.rules;
  d.daemon_changed = before.daemon != after.daemon;
  // Names in order (std::map): both sides merged.
  auto b = before.sections.begin(), a = after.sections.begin();
  while (b != before.sections.end() || a != after.sections.end()) {
    if (a == after.sections.end() || (b != before.sections.end() && b->first < a->first)) {
      d.sections_changed.push_back((b++)->first);
    } else if (b == before.sections.end() || a->first < b->first) {
      d.sections_changed.push_back((a++)->first);
    } else {
      if (!same_section(b->second, a->second)) d.sections_changed.push_back(a->first);
      ++a, ++b;
    }
  }
  return d;
}

bool ConfigDiff::empty() const {
  return links_added.empty() && links_removed.empty() && links_changed.empty() && policies_added.empty() &&
         policies_removed.empty() && policies_changed.empty() && !rules_changed && !daemon_changed &&
         sections_changed.empty();
}

bool ConfigDiff::link_field_changed(const std::string& link, const std::string& field) const {
  auto it = fields.find("links." + link);
  return it != fields.end() && std::find(it->second.begin(), it->second.end(), field) != it->second.end();
}

bool ConfigDiff::section_changed(std::string_view name) const {
  return std::find(sections_changed.begin(), sections_changed.end(), name) != sections_changed.end();
}

std::string ConfigDiff::summary() const {
  if (empty()) return "no changes";
  std::vector<std::string> parts;
  auto section = [&](const char* title, const char* prefix, const std::vector<std::string>& add,
                     const std::vector<std::string>& rem, const std::vector<std::string>& chg) {
    std::string s;
    for (const auto& n : add) s += " +" + n;
    for (const auto& n : rem) s += " -" + n;
    for (const auto& n : chg) {
      s += " ~" + n;
      auto it = fields.find(prefix + n);
      if (it != fields.end()) {
        s += "(";
        for (size_t i = 0; i < it->second.size(); ++i) s += (i ? "," : "") + it->second[i];
        s += ")";
      }
    }
    if (!s.empty()) parts.push_back(std::string(title) + ":" + s);
  };
  section("links", "links.", links_added, links_removed, links_changed);
  section("policies", "policies.", policies_added, policies_removed, policies_changed);
  if (rules_changed) parts.emplace_back("rules changed");
  if (daemon_changed) parts.emplace_back("daemon changed");
  if (!sections_changed.empty()) {
    std::string s = "sections:";
    for (const auto& n : sections_changed) s += " ~" + n;
    parts.push_back(s);
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
  return out;
}

}  // namespace uplink
