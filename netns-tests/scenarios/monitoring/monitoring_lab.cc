#include "monitoring_lab.h"

#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace uplink::lab::monitoring {

std::vector<LinkSpec> lab_links() {
  std::vector<LinkSpec> v(4);
  v[0].name = "wan1", v[0].kind = "ethernet", v[0].interface = "eth1", v[0].gateway = "198.18.1.1";
  v[1].name = "wan2", v[1].kind = "broadband", v[1].interface = "eth2", v[1].gateway = "198.18.2.1";
  v[2].name = "cell1", v[2].kind = "cellular", v[2].interface = "wwan0", v[2].gateway = "198.18.3.1";
  v[3].name = "cell2", v[3].kind = "cellular", v[3].interface = "wwan1", v[3].gateway = "198.18.4.1";
  return v;
}

std::vector<LinkSpec> ethernet_links() {
  auto v = lab_links();
  for (size_t i = 0; i < v.size(); ++i) {
    v[i].name = "wan" + std::to_string(i + 1);
    v[i].kind = "ethernet";
  }
  return v;
}

LinkSpec& find_link(std::vector<LinkSpec>& links, const std::string& name) {
  for (auto& l : links)
    if (l.name == name) return l;
  throw std::invalid_argument("no link named " + name + " in the scenario's link list");
}

namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string quoted_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quoted(v[i]);
  return out + "]";
}

}  // namespace

std::string config_toml(const std::vector<LinkSpec>& links, const std::string& log_level) {
  std::ostringstream o;
  o << "[daemon]\nlog_level = " << quoted(log_level) << "\n";
  for (const auto& l : links) {
    o << "\n[links." << l.name << "]\n"
      << "kind = " << quoted(l.kind) << "\ninterface = " << quoted(l.interface) << "\n";
    if (!l.gateway.empty()) o << "gateway = " << quoted(l.gateway) << "\n";
    // The lab's lines carry static addresses: no modem for uplinkd to drive.
    if (l.kind == "cellular") o << "modem = \"none\"\n";
    if (l.metered) o << "metered = " << (*l.metered ? "true" : "false") << "\n";
    o << "\n[links." << l.name << ".probe]\n"
      << "method = \"icmp\"\ntargets = " << quoted_list(l.targets) << "\nreliability = " << l.reliability
      << "\ninterval = " << quoted(l.interval) << "\nfast_interval = " << quoted(l.fast_interval)
      << "\ntimeout = " << quoted(l.timeout) << "\ndown_after = " << l.down_after << "\nup_after = " << l.up_after
      << "\n";
    if (!l.max_latency.empty() || l.max_loss || !l.max_jitter.empty()) {
      o << "\n[links." << l.name << ".quality]\n";
      if (!l.max_latency.empty()) o << "max_latency = " << quoted(l.max_latency) << "\n";
      if (l.max_loss) o << "max_loss = " << *l.max_loss << "\n";
      if (!l.max_jitter.empty()) o << "max_jitter = " << quoted(l.max_jitter) << "\n";
    }
  }
  o << "\n[policies.default]\nmode = \"failover\"\nmembers = [\n";
  for (size_t i = 0; i < links.size(); ++i)
    o << "  { link = " << quoted(links[i].name) << ", tier = " << (i + 1) << " },\n";
  o << "]\nlast_resort = \"unreachable\"\n\n[[rules]]\nname = \"all\"\npolicy = \"default\"\n";
  return o.str();
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Event::text() const { return link + " " + from + "->" + to + " (" + reason + ")"; }

std::string describe(const std::vector<Event>& events) {
  if (events.empty()) return "(no events)";
  std::string out;
  for (const auto& e : events) out += (out.empty() ? "" : ", ") + e.text();
  return out;
}

EventFollower::EventFollower(const std::string& uplinkctl, const std::string& socket, const std::string& log_path)
    : path_(log_path), child_({uplinkctl, "--socket", socket, "events", "--follow", "--json"}, log_path) {}

std::vector<Event> EventFollower::events() const {
  std::vector<Event> out;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line still being written has no '\n' yet
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("link") || !j.contains("to")) continue;
    Event e;
    auto ts = parse_wall_ms(j.value("ts", ""));
    if (!ts) continue;
    e.ts_ms = *ts;
    e.link = j.value("link", "");
    e.from = j.value("from", "");
    e.to = j.value("to", "");
    e.reason = j.value("reason", "");
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Event> EventFollower::since(int64_t from_ms, const std::string& link) const {
  std::vector<Event> out;
  for (auto& e : events())
    if (e.ts_ms >= from_ms && (link.empty() || e.link == link)) out.push_back(e);
  return out;
}

std::optional<Event> EventFollower::wait_for(const std::string& link, const std::string& to, int64_t from_ms,
                                             std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (auto& e : since(from_ms, link))
      if (e.to == to) return e;
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

namespace {

void collect(const nlohmann::json& j, const std::vector<std::string>& keys, std::vector<nlohmann::json>& out) {
  if (j.is_object()) {
    bool all = true;
    for (const auto& k : keys) all = all && j.contains(k);
    if (all) out.push_back(j);
    for (const auto& [k, v] : j.items()) collect(v, keys, out);
  } else if (j.is_array()) {
    for (const auto& v : j) collect(v, keys, out);
  }
}

}  // namespace

std::vector<nlohmann::json> find_objects(const nlohmann::json& j, const std::vector<std::string>& keys) {
  std::vector<nlohmann::json> out;
  collect(j, keys, out);
  return out;
}

std::optional<double> find_number(const nlohmann::json& j, const std::string& key) {
  for (const auto& o : find_objects(j, {key}))
    if (o[key].is_number()) return o[key].get<double>();
  return std::nullopt;
}

std::vector<double> metric_samples(const std::string& text, const std::string& family,
                                   const std::vector<std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  std::vector<double> out;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto name_end = line.find_first_of("{ ");
    if (name_end != family.size() || line.compare(0, name_end, family) != 0) continue;
    std::string label_set;
    if (line[name_end] == '{') {
      auto close = line.find('}', name_end);
      if (close == std::string::npos) continue;
      label_set = line.substr(name_end, close - name_end + 1);
      name_end = close + 1;
    }
    bool match = true;
    for (const auto& l : labels) match = match && label_set.find(l) != std::string::npos;
    if (!match) continue;
    try {
      out.push_back(std::stod(line.substr(name_end)));
    } catch (const std::exception&) {
      continue;  // a malformed sample is not a number we can use
    }
  }
  return out;
}

std::optional<double> metric_sum(const std::string& text, const std::string& family,
                                 const std::vector<std::string>& labels) {
  auto v = metric_samples(text, family, labels);
  if (v.empty()) return std::nullopt;
  double sum = 0;
  for (double x : v) sum += x;
  return sum;
}

std::vector<std::string> duplicate_families(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::map<std::string, int> seen;
  std::vector<std::string> dup;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    auto name = line.substr(7, line.find(' ', 7) - 7);
    if (++seen[name] == 2) dup.push_back(name);
  }
  return dup;
}

}  // namespace uplink::lab::monitoring
