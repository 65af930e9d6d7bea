#include "routing_lab.h"

#include <signal.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "harness/lab_test.h"

namespace uplink::lab::routing {

namespace {

// link name, line (router interface), the address core sees
struct LabLink {
  const char* link;
  const char* line;
  const char* source;
};
constexpr LabLink kLinks[] = {{"wan1", "eth1", "198.18.1.2"},
                              {"wan2", "eth2", "198.18.2.2"},
                              {"cell1", "wwan0", "198.18.3.2"},
                              {"cell2", "wwan1", "198.18.4.2"}};

// Only complete lines count: a report being written (a large one goes out in
// several write()s, and a busy machine lets the reader in between) is not read
// half-way.
std::string complete_lines(const std::string& text) {
  auto nl = text.rfind('\n');
  return nl == std::string::npos ? std::string() : text.substr(0, nl + 1);
}

std::string last_json_line(const std::string& text) {
  std::istringstream in(complete_lines(text));
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty() && line.front() == '{') last = line;
  }
  return last;
}

size_t count_json_lines(const std::string& text) {
  size_t n = 0;
  std::istringstream in(complete_lines(text));
  std::string line;
  while (std::getline(in, line)) n += !line.empty() && line.front() == '{';
  return n;
}

}  // namespace

std::string failover_tiers(const std::vector<std::string>& links) {
  std::string members;
  for (size_t i = 0; i < links.size(); ++i)
    members += "  { link = \"" + links[i] + "\", tier = " + std::to_string(i + 1) + " },\n";
  return "[policies.default]\nmode    = \"failover\"\nmembers = [\n" + members +
         "]\nlast_resort = \"unreachable\"\n\n"
         "[[rules]]\nname   = \"lan\"\nsource = \"192.168.50.0/24\"\npolicy = \"default\"\n\n"
         "[[rules]]\nname   = \"all\"\npolicy = \"default\"\n";
}

std::string lab_config_with(const std::string& policies_and_rules) {
  std::ifstream in(source_dir() + "/config/lab.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto cut = text.find("\n[policies.");
  if (cut == std::string::npos) return text + "\n" + policies_and_rules;
  // Leave out the comment banner that introduces the policies, too.
  auto banner = text.rfind("\n# ----", cut);
  if (banner != std::string::npos && banner > text.rfind("\n[links.", cut)) cut = banner;
  return text.substr(0, cut + 1) + "\n" + policies_and_rules;
}

std::string link_of_source(const std::string& address) {
  for (const auto& l : kLinks)
    if (address == l.source) return l.link;
  return address;
}

std::string source_of_link(const std::string& link) {
  for (const auto& l : kLinks)
    if (link == l.link) return l.source;
  return link;
}

std::string line_of_link(const std::string& link) {
  for (const auto& l : kLinks)
    if (link == l.link) return l.line;
  return link;
}

std::vector<std::string> FlowRecord::links() const {
  std::vector<std::string> out;
  for (const auto& s : segments) out.push_back(link_of_source(s.src));
  return out;
}

std::vector<std::string> FlowRecord::links_by_seq() const {
  std::vector<const Segment*> by_seq;
  for (const auto& s : segments) by_seq.push_back(&s);
  std::stable_sort(by_seq.begin(), by_seq.end(),
                   [](const Segment* a, const Segment* b) { return a->first_seq < b->first_seq; });
  std::vector<std::string> out;
  for (const auto* s : by_seq) {
    auto link = link_of_source(s->src);
    if (out.empty() || out.back() != link) out.push_back(link);
  }
  return out;
}

const FlowRecord* RecvReport::flow(uint32_t id) const {
  auto it = flows.find(id);
  return it == flows.end() ? nullptr : &it->second;
}

Result<RecvReport> parse_recv_report(const std::string& output) {
  auto j = nlohmann::json::parse(last_json_line(output), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("flows"))
    return make_error("flow-recv printed no report (output: " + output.substr(0, 300) + ")");
  RecvReport r;
  r.packets = j.value("packets", uint64_t{0});
  for (const auto& [id, f] : j["flows"].items()) {
    FlowRecord rec;
    rec.packets = f.value("packets", uint64_t{0});
    rec.max_gap_ns = f.value("max_gap_ns", int64_t{0});
    for (const auto& s : f["segments"]) {
      rec.segments.push_back(Segment{s.value("src", ""), s.value("packets", uint64_t{0}),
                                     s.value("first_seq", uint64_t{0}), s.value("last_seq", uint64_t{0}),
                                     s.value("first_ns", int64_t{0}), s.value("last_ns", int64_t{0})});
    }
    if (!rec.segments.empty()) ++r.flows_by_first_link[link_of_source(rec.segments.front().src)];
    r.flows.emplace(static_cast<uint32_t>(std::stoul(id)), std::move(rec));
  }
  return r;
}

std::string tool(const std::string& name) { return bin_dir() + "/" + name; }

FlowReceiver::FlowReceiver(Lab& lab, uint16_t port, const std::filesystem::path& log)
    : child_(lab.spawn("core", {tool("flow-recv"), "--port", std::to_string(port)}, log.string())), port_(port) {
  // flow-recv binds at once; give the exec a moment so the first packets are not refused.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
}

Result<RecvReport> FlowReceiver::snapshot() {
  size_t before = count_json_lines(child_.log());
  child_.signal(SIGUSR1);
  if (!wait_for([&] { return count_json_lines(child_.log()) > before; }, std::chrono::seconds(3)))
    return make_error("flow-recv on port " + std::to_string(port_) + " did not answer SIGUSR1 within 3 s");
  return parse_recv_report(child_.log());
}

Result<RecvReport> FlowReceiver::stop() {
  child_.stop(std::chrono::seconds(3));
  return parse_recv_report(child_.log());
}

FlowStream::FlowStream(Lab& lab, const std::string& node, const std::string& target, uint16_t port,
                       uint32_t flow_id, int rate_pps, const std::filesystem::path& log,
                       const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {tool("flow-send"), "--target", target, "--port", std::to_string(port),
                                   "--flow-id-base", std::to_string(flow_id), "--rate", std::to_string(rate_pps)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  child_ = lab.spawn(node, argv, log.string());
}

nlohmann::json FlowStream::stop() {
  child_.stop(std::chrono::seconds(3));
  auto j = nlohmann::json::parse(last_json_line(child_.log()), nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

nlohmann::json send_flows(Lab& lab, const std::string& node, const std::string& target, uint16_t port, int flows,
                          uint32_t flow_id_base, uint16_t src_port_base, int packets_per_flow, int rate_pps) {
  auto r = lab.exec(node, {tool("flow-send"), "--target", target, "--port", std::to_string(port), "--flows",
                           std::to_string(flows), "--flow-id-base", std::to_string(flow_id_base), "--src-port-base",
                           std::to_string(src_port_base), "--packets-per-flow", std::to_string(packets_per_flow),
                           "--rate", std::to_string(rate_pps)},
                    std::chrono::seconds(60));
  auto j = nlohmann::json::parse(last_json_line(r.out), nullptr, false);
  if (j.is_discarded()) return {{"error", "flow-send failed: " + r.err}};
  return j;
}

KernelSnapshot kernel_snapshot(Lab& lab) {
  auto run = [&](const std::vector<std::string>& argv) {
    auto r = lab.exec("router", argv, std::chrono::seconds(10));
    return r.ok() ? r.out : "<" + argv[0] + " failed: " + r.err + ">";
  };
  return {run({"ip", "rule"}), run({"ip", "route", "show", "table", "all"}), run({"ip", "-6", "rule"}),
          run({"ip", "-6", "route", "show", "table", "all"}), run({"nft", "list", "ruleset"})};
}

std::string describe_difference(const KernelSnapshot& a, const KernelSnapshot& b) {
  std::string out;
  auto cmp = [&](const char* what, const std::string& x, const std::string& y) {
    if (x != y) out += std::string("--- ") + what + " before:\n" + x + "--- " + what + " after:\n" + y;
  };
  cmp("ip rule", a.rules4, b.rules4);
  cmp("ip route show table all", a.routes4, b.routes4);
  cmp("ip -6 rule", a.rules6, b.rules6);
  cmp("ip -6 route show table all", a.routes6, b.routes6);
  cmp("nft list ruleset", a.ruleset, b.ruleset);
  return out;
}

std::vector<std::string> duplicate_lines(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::set<std::string> seen, dup;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (!seen.insert(line).second) dup.insert(line);
  }
  return {dup.begin(), dup.end()};
}

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

std::vector<std::string> active_members(const nlohmann::json& status, const std::string& policy) {
  std::vector<std::string> out;
  if (!status.is_object() || !status.contains("policies")) return out;
  for (const auto& p : status["policies"]) {
    if (p.value("name", "") != policy || !p.contains("active")) continue;
    for (const auto& m : p["active"]) out.push_back(m.is_string() ? m.get<std::string>() : m.value("link", ""));
  }
  return out;
}

std::string state_of(const nlohmann::json& status, const std::string& link) {
  if (!status.is_object() || !status.contains("links")) return "";
  for (const auto& l : status["links"])
    if (l.value("name", "") == link) return l.value("state", "");
  return "";
}

Uplinkd::Uplinkd(Lab& lab, std::filesystem::path dir) : lab_(lab), dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_ / "state");
  std::filesystem::create_directories(dir_ / "hooks.d");
}

Uplinkd::~Uplinkd() { child_.stop(std::chrono::seconds(5)); }

void Uplinkd::write_config(const std::string& toml) {
  std::ofstream out(dir_ / "uplinkd.toml");
  out << rewrite_daemon_paths(toml, socket_path(), (dir_ / "state").string(), (dir_ / "hooks.d").string());
}

Result<void> Uplinkd::start(const std::string& toml, std::chrono::milliseconds ready_timeout) {
  if (!std::filesystem::exists(uplinkd_path())) return make_error("uplinkd not built: " + uplinkd_path());
  write_config(toml);
  auto log = dir_ / ("uplinkd-" + std::to_string(++starts_) + ".log");
  child_ = lab_.spawn("router", {uplinkd_path(), "--config", (dir_ / "uplinkd.toml").string(), "--log-level", "debug"},
                      log.string());
  bool ready = wait_for([&] { return !child_.running() || ctl({"status", "--json"}, std::chrono::seconds(2)).ok(); },
                        ready_timeout);
  if (!child_.running()) return make_error("uplinkd exited at start; log " + log.string() + ":\n" + child_.log());
  if (!ready) return make_error("uplinkd did not answer on " + socket_path() + " within the start timeout");
  return {};
}

void Uplinkd::kill9() {
  child_.signal(SIGKILL);
  wait_for([&] { return !child_.running(); }, std::chrono::seconds(3), std::chrono::milliseconds(5));
}

int Uplinkd::stop() { return child_.stop(std::chrono::seconds(5)); }

ExecResult Uplinkd::ctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {uplinkctl_path(), "--socket", socket_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

nlohmann::json Uplinkd::status() {
  auto r = ctl({"status", "--json"});
  auto j = r.ok() ? nlohmann::json::parse(r.out, nullptr, false) : nlohmann::json();
  return j.is_discarded() ? nlohmann::json() : j;
}

std::vector<Event> Uplinkd::events() {
  std::vector<Event> out;
  auto r = ctl({"events", "--json"});
  if (!r.ok()) return out;
  auto add = [&](const nlohmann::json& e) {
    if (!e.is_object()) return;
    auto ts_ms = parse_wall_ms(e.value("ts", ""));
    out.push_back(Event{ts_ms.value_or(0) * 1000000, e.value("link", ""), e.value("from", ""), e.value("to", ""),
                        e.value("reason", "")});
  };
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_discarded() && j.is_array()) {
    for (const auto& e : j) add(e);
    return out;
  }
  std::istringstream in(r.out);  // one object per line
  std::string line;
  while (std::getline(in, line)) {
    auto e = nlohmann::json::parse(line, nullptr, false);
    if (!e.is_discarded()) add(e);
  }
  return out;
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout, std::chrono::milliseconds every) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace uplink::lab::routing
