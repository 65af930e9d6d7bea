#include "cli/render.h"

#include <algorithm>
#include <cstdio>

namespace uplink::cli {

std::string Table::render() const {
  std::vector<size_t> width(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  std::vector<std::string> upper = header_;
  for (auto& h : upper) std::transform(h.begin(), h.end(), h.begin(), ::toupper);
  measure(upper);
  for (const auto& r : rows_) measure(r);
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string c = i < row.size() ? row[i] : "";
      line += c;
      if (i + 1 < width.size()) line += std::string(width[i] - c.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  emit(upper);
  for (const auto& r : rows_) emit(r);
  return out;
}

std::string cell(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return buf;
  }
  if (v.is_number()) return v.dump();
  if (v.is_array()) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : ",") + cell(e);
    return s.empty() ? "-" : s;
  }
  return v.dump();
}

namespace {

Json field(const Json& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() ? Json() : *it;
}

}  // namespace

std::string render_links(const Json& links) {
  Table t({"link", "kind", "interface", "state", "since", "reason", "latency_ms", "jitter_ms", "loss_pct", "table"});
  for (const auto& l : links) {
    t.add({cell(field(l, "name")), cell(field(l, "kind")), cell(field(l, "interface")), cell(field(l, "state")),
           cell(field(l, "since")), cell(field(l, "reason")), cell(field(l, "latency_ms")),
           cell(field(l, "jitter_ms")), cell(field(l, "loss_pct")), cell(field(l, "table"))});
  }
  return t.render();
}

std::string render_policies(const Json& policies) {
  Table t({"policy", "mode", "active", "members", "last_resort"});
  for (const auto& p : policies) {
    std::string members;
    for (const auto& m : field(p, "members")) {
      members += (members.empty() ? "" : " ") + cell(field(m, "link")) + ":" + cell(field(m, "tier")) + ":" +
                 cell(field(m, "weight"));
    }
    t.add({cell(field(p, "name")), cell(field(p, "mode")), cell(field(p, "active")), members.empty() ? "-" : members,
           cell(field(p, "last_resort"))});
  }
  return t.render();
}

std::string render_status(const Json& status) {
  std::string out;
  const Json d = field(status, "daemon");
  if (d.is_object()) {
    out += "uplinkd " + cell(field(d, "version")) + ", pid " + cell(field(d, "pid")) + ", config " +
           cell(field(d, "config")) + ", up since " + cell(field(d, "started")) + "\n\n";
  }
  out += render_links(field(status, "links"));
  out += "\n";
  out += render_policies(field(status, "policies"));
  return out;
}

std::string render_link(const Json& link) {
  std::string out;
  auto line = [&](const std::string& k, const Json& v) { out += k + std::string(16 - std::min<size_t>(k.size(), 15), ' ') + cell(v) + "\n"; };
  for (const char* k : {"name", "kind", "interface", "state", "since", "reason", "latency_ms", "jitter_ms",
                        "loss_pct", "table", "fwmark", "gateway", "metered", "enabled"}) {
    line(k, field(link, k));
  }
  const Json cfg = field(link, "config");
  if (cfg.is_object()) {
    for (const char* section : {"probe", "quality"}) {
      const Json s = field(cfg, section);
      if (!s.is_object()) continue;
      for (auto it = s.begin(); it != s.end(); ++it) line(std::string(section) + "." + it.key(), it.value());
    }
  }
  return out;
}

std::string render_rules(const Json& rules) {
  Table t({"#", "rule", "policy", "match", "sticky"});
  int i = 0;
  for (const auto& r : rules) {
    std::string match;
    auto add = [&](const char* label, const char* key) {
      Json v = field(r, key);
      if (v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_array() && v.empty())) return;
      match += (match.empty() ? "" : " ") + std::string(label) + (v.is_boolean() ? "" : " " + cell(v));
    };
    add("from", "source");
    add("to", "destination");
    add("proto", "protocol");
    add("sport", "source_port");
    add("dport", "destination_port");
    add("iif", "input_interface");
    add("local", "local");
    t.add({std::to_string(++i), cell(field(r, "name")), cell(field(r, "policy")), match.empty() ? "*" : match,
           cell(field(r, "sticky"))});
  }
  return t.render();
}

std::string render_event(const Json& e) {
  // Policy events are told apart by their "policy" key (docs/control-protocol.md).
  if (e.is_object() && e.contains("policy")) {
    return cell(field(e, "ts")) + "  policy " + cell(field(e, "policy")) + "  " + cell(field(e, "active_before")) +
           " -> " + cell(field(e, "active")) + "  (" + cell(field(e, "reason")) + ")";
  }
  if (e.is_object() && e.contains("link") && e.contains("from") && e.contains("to")) {
    return cell(field(e, "ts")) + "  " + cell(field(e, "link")) + "  " + cell(field(e, "from")) + " -> " +
           cell(field(e, "to")) + "  (" + cell(field(e, "reason")) + ")";
  }
  // A module's event (queue, plugin, tunnel, ...): its time, then its fields as they are.
  std::string out = cell(field(e, "ts"));
  if (e.is_object())
    for (auto it = e.begin(); it != e.end(); ++it)
      if (it.key() != "ts") out += "  " + it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
  return out;
}

}  // namespace uplink::cli
