// detect: how fast and how cheaply uplinkd (the real daemon, in the lab)
// notices a dead or lossy line. Run on demand, as root:
//
//   <build>/bin/detect [--trials N] [--quick] [--loss-minutes M] [--cpu-seconds S] [--only LIST]
//
//   LIST: comma-separated sections: cut-default, cut-aggressive, loss, steady, cpu, metered
//
// Every time is measured from just before the fault is applied to the "ts" of
// the matching event in `uplinkctl events --follow --json` (the daemon's wall
// clock, same machine). upstream-down and loss are applied from this process
// (harness/quick_fault.h: one nft transaction in the ISP's namespace, one
// linkemu control request; about a millisecond, printed separately), not by
// `uplink-lab fault`, whose python start alone takes ~60-100 ms. Trials run on the four lab
// lines in turn, one fault per line per daemon run, so no trial sees flap
// damping or a previous trial's statistics; the daemon is restarted after
// every four trials, each trial starts at a random phase of the probe interval.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/percentile.h"
#include "common/units.h"
#include "harness/lab.h"
#include "harness/lab_test.h"
#include "harness/quick_fault.h"
#include "monitoring_lab.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace uplink::lab;
using namespace uplink::lab::monitoring;
using nlohmann::json;

namespace {

struct Options {
  int trials = 20;
  double loss_minutes = 10;
  int cpu_seconds = 60;
  std::set<std::string> only;  // empty = all
  bool wants(const std::string& s) const { return only.empty() || only.count(s) != 0; }
};

// One uplinkd in the lab's router with its event stream.
class Daemon {
 public:
  Daemon(Lab& lab, fs::path dir) : lab_(lab), dir_(std::move(dir)) {}
  ~Daemon() { stop(); }

  bool start(const std::string& toml) {
    stop();
    ++runs_;
    fs::create_directories(dir_ / "state");
    fs::create_directories(dir_ / "hooks.d");
    {
      std::ofstream out(dir_ / "uplinkd.toml");
      out << rewrite_daemon_paths(toml, socket(), (dir_ / "state").string(), (dir_ / "hooks.d").string());
    }
    log_ = (dir_ / ("uplinkd-" + std::to_string(runs_) + ".log")).string();
    child_.emplace(lab_.spawn("router", {uplinkd_path(), "--config", (dir_ / "uplinkd.toml").string()}, log_));
    auto end = std::chrono::steady_clock::now() + 10s;
    while (!ctl({"status", "--json"}, 2s).ok()) {
      if (!child_->running() || std::chrono::steady_clock::now() > end) {
        std::fprintf(stderr, "uplinkd did not start (log %s):\n%s\n", log_.c_str(), child_->log().c_str());
        return false;
      }
      std::this_thread::sleep_for(50ms);
    }
    events_.emplace(uplinkctl_path(), socket(), (dir_ / ("events-" + std::to_string(runs_) + ".jsonl")).string());
    std::this_thread::sleep_for(300ms);  // let uplinkctl subscribe
    return events_->running();
  }

  void stop() {
    events_.reset();
    if (child_) {
      child_->stop(5s);
      child_.reset();
    }
  }

  std::string socket() const { return (dir_ / "uplinkd.sock").string(); }
  pid_t pid() const { return child_ ? child_->pid() : -1; }
  const EventFollower& events() const { return *events_; }
  const std::string& log() const { return log_; }

  ExecResult ctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 10s) const {
    std::vector<std::string> argv = {uplinkctl_path(), "--socket", socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, timeout);
  }

  json json_of(const std::vector<std::string>& args) const {
    auto r = ctl(args);
    if (!r.ok()) return json();
    auto j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json() : j;
  }

  std::string state(const std::string& link) const {
    auto s = json_of({"status", "--json"});
    if (!s.is_object()) return "";
    for (const auto& l : s["links"])
      if (l.value("name", "") == link) return l.value("state", "");
    return "";
  }

  bool wait_state(const std::vector<std::string>& links, const std::string& want,
                  std::chrono::milliseconds timeout) const {
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      bool all = true;
      for (const auto& l : links) all = all && state(l) == want;
      if (all) return true;
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(50ms);
    }
  }

 private:
  Lab& lab_;
  fs::path dir_;
  int runs_ = 0;
  std::string log_;
  std::optional<Child> child_;
  std::optional<EventFollower> events_;
};

std::vector<std::string> names(const std::vector<LinkSpec>& links) {
  std::vector<std::string> v;
  for (const auto& l : links) v.push_back(l.name);
  return v;
}

void report(const std::string& what, const std::vector<double>& v, int trials) {
  if (v.empty()) {
    std::printf("  %-58s no successful trial of %d\n", what.c_str(), trials);
  } else {
    std::printf("  %-58s p50 %6.0f ms  p95 %6.0f ms  min %6.0f  max %6.0f  (%zu/%d)\n", what.c_str(), uplink::percentile(v, 0.5),
                uplink::percentile(v, 0.95), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()),
                v.size(), trials);
  }
  std::fflush(stdout);
}

struct TrialResult {
  std::vector<double> detect_ms;   // fault start -> event ts
  std::vector<double> command_ms;  // applying the fault itself
  std::vector<double> after_ms;    // fault applied -> event ts (the fault acts in between)
  std::vector<std::string> failures;
  std::map<std::string, int> reasons;
};

// The fault, applied in about a millisecond where the bench can (see top).
uplink::Result<void> apply_fault(Lab& lab, const std::string& line, const std::vector<std::string>& fault) {
  if (fault == std::vector<std::string>{"upstream-down"}) return quick_upstream_down(lab, line);
  if (fault.size() == 2 && fault[0] == "loss") return quick_emu(lab, line, "set dir=a2b loss=" + fault[1] + " burst=0");
  return lab.fault(line, fault);
}

// `trials` faults (one per line per daemon run), each timed to the first event
// of that link into `to`.
TrialResult run_trials(Lab& lab, Daemon& d, const std::vector<LinkSpec>& links, const std::vector<std::string>& fault,
                       const std::string& to, int trials, std::mt19937& rng) {
  TrialResult res;
  int done = 0;
  while (done < trials) {
    for (const auto& l : lines()) (void)lab.fault(l.name, {"clear"});
    if (!d.start(config_toml(links)) || !d.wait_state(names(links), "up", 20s)) {
      res.failures.push_back("daemon start or links up failed (log " + d.log() + ")");
      if (res.failures.size() > 3) break;
      continue;
    }
    for (size_t i = 0; i < links.size() && done < trials; ++i, ++done) {
      const auto& link = links[i];
      if (!d.wait_state({link.name}, "up", 20s)) {
        res.failures.push_back(link.name + " not up before trial " + std::to_string(done + 1));
        continue;
      }
      // Steady state, then a random phase against the probe schedule.
      auto ivl = uplink::parse_duration(link.interval);
      int ivl_ms = ivl.ok() ? static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(*ivl).count())
                            : 1000;
      std::uniform_int_distribution<int> phase(0, ivl_ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(1000 + phase(rng)));
      int64_t t0 = now_ms();
      auto f = apply_fault(lab, link.interface, fault);
      int64_t t1 = now_ms();
      if (!f.ok()) {
        res.failures.push_back(f.error().message);
        continue;
      }
      res.command_ms.push_back(static_cast<double>(t1 - t0));
      auto e = d.events().wait_for(link.name, to, t0, 30s);
      if (!e) {
        res.failures.push_back(link.name + " never went " + to + "; events: " + describe(d.events().since(t0)));
        continue;
      }
      res.detect_ms.push_back(static_cast<double>(e->ts_ms - t0));
      res.after_ms.push_back(static_cast<double>(e->ts_ms - t1));
      res.reasons[e->reason]++;
    }
    d.stop();
  }
  for (const auto& l : lines()) (void)lab.fault(l.name, {"clear"});
  return res;
}

void print_trials(const std::string& what, const TrialResult& r, int trials) {
  report(what, r.detect_ms, trials);
  report("  (of which applying the fault)", r.command_ms, trials);
  report("  (from the fault's return: lower bound)", r.after_ms, trials);
  std::string reasons;
  for (const auto& [k, v] : r.reasons) reasons += k + " x" + std::to_string(v) + " ";
  std::printf("    reasons: %s\n", reasons.empty() ? "-" : reasons.c_str());
  for (const auto& f : r.failures) std::printf("    FAILED: %s\n", f.c_str());
  std::fflush(stdout);
}

std::vector<LinkSpec> aggressive_links() {
  // 2 targets every 200 ms = 10 probes/s per link in steady state (fast
  // rounds while a change is pending: 2 every 50 ms).
  auto v = ethernet_links();
  for (auto& l : v) {
    l.targets = {"203.0.113.1", "203.0.113.2"};
    l.reliability = 1;
    l.interval = "200ms";
    l.fast_interval = "50ms";
    l.timeout = "20ms";
    l.down_after = 2;
    l.up_after = 3;
  }
  return v;
}

std::vector<LinkSpec> quality_links() {
  auto v = ethernet_links();  // config/lab.toml's wan1 thresholds on all four
  for (auto& l : v) {
    l.max_latency = "150ms";
    l.max_loss = 5;
    l.max_jitter = "30ms";
  }
  return v;
}

std::vector<LinkSpec> metered_links() {
  auto v = lab_links();
  std::rotate(v.begin(), v.begin() + 2, v.end());  // cell1 on wwan0, cell2 on wwan1, then eth1, eth2
  for (size_t i = 0; i < v.size(); ++i) {
    v[i].name = "cell" + std::to_string(i + 1);
    v[i].kind = "cellular";  // metered by default
  }
  return v;
}

void steady_loss(Lab& lab, Daemon& d, double minutes) {
  auto links = quality_links();
  for (const auto& l : lines()) (void)lab.fault(l.name, {"clear"});
  if (!d.start(config_toml(links)) || !d.wait_state(names(links), "up", 20s)) {
    std::printf("  steady loss: daemon did not come up (log %s)\n", d.log().c_str());
    return;
  }
  std::this_thread::sleep_for(2s);
  int64_t t0 = now_ms();
  for (const auto& l : links) (void)lab.fault(l.interface, {"loss", "30"});
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(minutes * 60000));
  int minute = 0;
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(60s, end - std::chrono::steady_clock::now()));
    ++minute;
    std::printf("    minute %d: %zu changes so far on 4 links\n", minute, d.events().since(t0).size());
    std::fflush(stdout);
  }
  auto st = d.json_of({"status", "--json"});
  int total_after_first = 0;
  for (const auto& l : links) {
    auto seq = d.events().since(t0, l.name);
    int after_first = seq.empty() ? 0 : static_cast<int>(seq.size()) - 1;
    total_after_first += after_first;
    double loss = -1;
    for (const auto& s : st["links"])
      if (s.value("name", "") == l.name && s["loss_pct"].is_number()) loss = s["loss_pct"].get<double>();
    std::printf("  %-6s %.1f min of 30%% loss: %zu change(s): %s; after the first: %d; measured loss now %.1f%%\n",
                l.name.c_str(), minutes, seq.size(), describe(seq).c_str(), after_first, loss);
  }
  std::printf("  steady 30%% loss, %.1f min x 4 links: state changes after the first, total %d (goal 0)\n", minutes,
              total_after_first);
  d.stop();
  for (const auto& l : lines()) (void)lab.fault(l.name, {"clear"});
  std::fflush(stdout);
}

// utime + stime of a process, in clock ticks.
std::optional<long long> cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(s.substr(close + 2));
  std::vector<std::string> f;
  std::string tok;
  while (rest >> tok) f.push_back(tok);
  // Fields after the comm: state(3) ... utime(14) stime(15) -> indexes 11 and 12 here.
  if (f.size() < 13) return std::nullopt;
  return std::stoll(f[11]) + std::stoll(f[12]);
}

std::string proc_status(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) {
      auto v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "?";
}

double probes_sent(const Daemon& d, const std::string& link) {
  auto m = d.ctl({"metrics"});
  return m.ok() ? metric_sum(m.out, "uplink_probe_sent_total", {"link=\"" + link + "\""}).value_or(-1) : -1;
}

void cpu(Lab& lab, Daemon& d, int seconds) {
  auto links = ethernet_links();
  for (auto& l : links) l.interval = "300ms";  // 3 targets / 300 ms = 10 probes/s per link
  for (const auto& l : lines()) (void)lab.fault(l.name, {"clear"});
  if (!d.start(config_toml(links)) || !d.wait_state(names(links), "up", 20s)) {
    std::printf("  cpu: daemon did not come up (log %s)\n", d.log().c_str());
    return;
  }
  std::this_thread::sleep_for(3s);
  std::vector<double> sent0;
  for (const auto& l : links) sent0.push_back(probes_sent(d, l.name));
  auto c0 = cpu_ticks(d.pid());
  auto w0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  auto c1 = cpu_ticks(d.pid());
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  std::string rates;
  for (size_t i = 0; i < links.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s %.1f/s ", links[i].name.c_str(), (probes_sent(d, links[i].name) - sent0[i]) / wall);
    rates += buf;
  }
  if (!c0 || !c1) {
    std::printf("  cpu: cannot read /proc/%d/stat\n", d.pid());
  } else {
    double secs = static_cast<double>(*c1 - *c0) / static_cast<double>(sysconf(_SC_CLK_TCK));
    std::printf("  uplinkd, 4 links x 3 targets, %.0f s: CPU %.2f %% of one core (%.2f s), VmRSS %s, VmHWM %s\n", wall,
                100 * secs / wall, secs, proc_status(d.pid(), "VmRSS").c_str(), proc_status(d.pid(), "VmHWM").c_str());
    // Most of the RSS is shared library text (libstdc++, libnftables, libnl...): say how much is our own.
    std::printf("    of which RssAnon %s (private heap/stack), RssFile %s (binary and shared libraries)\n",
                proc_status(d.pid(), "RssAnon").c_str(), proc_status(d.pid(), "RssFile").c_str());
    std::printf("    probes sent: %s\n", rates.c_str());
  }
  d.stop();
  std::fflush(stdout);
}

long long iface_counter(Lab& lab, const std::string& ifname, const std::string& counter) {
  auto r = lab.exec("router", {"cat", "/sys/class/net/" + ifname + "/statistics/" + counter});
  return r.ok() ? std::atoll(r.out.c_str()) : -1;
}

void metered(Lab& lab, Daemon& d, int trials, std::mt19937& rng) {
  auto links = metered_links();
  const auto& cell = links[0];
  for (const auto& l : lines()) (void)lab.fault(l.name, {"clear"});
  if (!d.start(config_toml(links)) || !d.wait_state(names(links), "up", 20s)) {
    std::printf("  metered: daemon did not come up (log %s)\n", d.log().c_str());
    return;
  }
  std::this_thread::sleep_for(10s);  // past the fast rounds of start-up
  const int window = 60;
  double sent0 = probes_sent(d, cell.name);
  long long tx0 = iface_counter(lab, cell.interface, "tx_bytes"), rx0 = iface_counter(lab, cell.interface, "rx_bytes");
  long long txp0 = iface_counter(lab, cell.interface, "tx_packets");
  std::this_thread::sleep_for(std::chrono::seconds(window));
  double sent1 = probes_sent(d, cell.name);
  long long tx1 = iface_counter(lab, cell.interface, "tx_bytes"), rx1 = iface_counter(lab, cell.interface, "rx_bytes");
  long long txp1 = iface_counter(lab, cell.interface, "tx_packets");
  auto show = d.json_of({"link", "show", cell.name, "--json"});
  auto bps = find_number(show, "probe_bytes_per_s");
  double probes_per_s = (sent1 - sent0) / window;
  std::printf("  %s on %s (cellular, metered, default profile), steady %d s:\n", cell.name.c_str(),
              cell.interface.c_str(), window);
  std::printf("    uplinkd's probe_bytes_per_s: %s B/s sent (replies the same again)\n",
              bps ? std::to_string(*bps).c_str() : "MISSING");
  std::printf("    probes sent: %.2f/s = %.1f B/s at 44 B per IPv4 ICMP probe\n", probes_per_s, probes_per_s * 44);
  std::printf("    %s interface counters: tx %.1f B/s (%.2f pkt/s, incl. 14 B Ethernet header), rx %.1f B/s\n",
              cell.interface.c_str(), static_cast<double>(tx1 - tx0) / window,
              static_cast<double>(txp1 - txp0) / window, static_cast<double>(rx1 - rx0) / window);
  d.stop();
  std::fflush(stdout);
  auto r = run_trials(lab, d, links, {"upstream-down"}, "down", trials, rng);
  print_trials("upstream-down -> down, metered cellular, default profile", r, trials);
}

int usage() {
  std::fprintf(stderr,
               "usage: detect [--trials N] [--quick] [--loss-minutes M] [--cpu-seconds S] [--only LIST]\n"
               "  LIST: cut-default,cut-aggressive,loss,steady,cpu,metered (default: all)\n"
               "  --quick: 5 trials, 1 minute of steady loss, 20 s of CPU\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--quick") {
      o.trials = 5;
      o.loss_minutes = 1;
      o.cpu_seconds = 20;
    } else if (a == "--trials") {
      const char* v = next();
      if (!v || (o.trials = std::atoi(v)) <= 0) return usage();
    } else if (a == "--loss-minutes") {
      const char* v = next();
      if (!v || (o.loss_minutes = std::atof(v)) <= 0) return usage();
    } else if (a == "--cpu-seconds") {
      const char* v = next();
      if (!v || (o.cpu_seconds = std::atoi(v)) <= 0) return usage();
    } else if (a == "--only") {
      const char* v = next();
      if (!v) return usage();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) o.only.insert(item);
    } else {
      return usage();
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "detect: needs root (network namespaces); nothing done\n");
    return 2;
  }
  if (!fs::exists(uplinkd_path()) || !fs::exists(uplinkctl_path())) {
    std::fprintf(stderr, "detect: %s or %s not built; nothing done\n", uplinkd_path().c_str(),
                 uplinkctl_path().c_str());
    return 2;
  }
  Lab lab;
  if (auto r = lab.up(); !r.ok()) {
    std::fprintf(stderr, "detect: %s\n", r.error().message.c_str());
    return 1;
  }
  fs::path dir = fs::temp_directory_path() / ("uplink-detect-" + lab.prefix());
  fs::create_directories(dir);
  std::printf("detect: uplinkd in lab %s, %d trials per measurement, logs in %s\n", lab.prefix().c_str(), o.trials,
              dir.c_str());
  std::mt19937 rng(std::random_device{}());
  {
    Daemon d(lab, dir);
    if (o.wants("cut-default")) {
      std::printf("(a) upstream-down -> down, shipped defaults (1s / 100ms, 3 targets, 2 of 3, down_after 3, auto)\n");
      auto r = run_trials(lab, d, ethernet_links(), {"upstream-down"}, "down", o.trials, rng);
      print_trials("upstream-down -> down, default profile (goal p50 <= 1000)", r, o.trials);
    }
    if (o.wants("cut-aggressive")) {
      std::printf("(a) upstream-down -> down, aggressive (2 targets / 200ms = 10 probes/s, fast 50ms, 1 of 2, "
                  "down_after 2, timeout 20ms)\n");
      auto r = run_trials(lab, d, aggressive_links(), {"upstream-down"}, "down", o.trials, rng);
      print_trials("upstream-down -> down, aggressive profile (goal p50 <= 250)", r, o.trials);
    }
    if (o.wants("loss")) {
      std::printf("(b) 30 %% random loss -> degraded (default profile, max_loss 5, max_latency 150ms, max_jitter 30ms)\n");
      auto r = run_trials(lab, d, quality_links(), {"loss", "30"}, "degraded", o.trials, rng);
      print_trials("30% loss -> degraded (goal <= 3000)", r, o.trials);
    }
    if (o.wants("steady")) {
      std::printf("(b) steady 30 %% loss for %.1f minutes on all four lines\n", o.loss_minutes);
      steady_loss(lab, d, o.loss_minutes);
    }
    if (o.wants("cpu")) {
      std::printf("(c) CPU and memory of uplinkd, 4 links x 3 targets at 10 probes/s, log level info\n");
      cpu(lab, d, o.cpu_seconds);
    }
    if (o.wants("metered")) {
      std::printf("(d) metered cellular link, default profile: probe traffic and detection\n");
      metered(lab, d, o.trials, rng);
    }
  }
  if (auto r = lab.down(); !r.ok()) std::fprintf(stderr, "detect: %s\n", r.error().message.c_str());
  return 0;
}
