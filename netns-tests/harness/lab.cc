#include "harness/lab.h"

#include <cstdio>
#include <ctime>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>

namespace uplink::lab {

std::string bin_dir() { return UPLINK_LAB_BIN_DIR; }
std::string uplinkd_path() { return UPLINKD_BIN; }
std::string uplinkctl_path() { return UPLINKCTL_BIN; }
std::string source_dir() { return UPLINK_SOURCE_DIR; }

namespace {

std::string lab_script() { return bin_dir() + "/uplink-lab"; }

// Labs that are up, for the emergency teardown. Fixed-size, preformatted argv,
// so the signal handler only calls async-signal-safe functions (fork, execv, waitpid).
constexpr int kMaxLabs = 8;
struct Emergency {
  char prefix[32];
  bool used;
};
Emergency g_labs[kMaxLabs];
char g_script[512];
std::mutex g_mu;

void teardown_all_signal_safe() {
  for (auto& l : g_labs) {
    if (!l.used) continue;
    pid_t pid = fork();
    if (pid == 0) {
      char down[] = "down", opt[] = "--prefix";
      char* argv[] = {g_script, opt, l.prefix, down, nullptr};
      execv(g_script, argv);
      _exit(127);
    }
    if (pid > 0) waitpid(pid, nullptr, 0);
    l.used = false;
  }
}

void on_signal(int sig) {
  teardown_all_signal_safe();
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_handlers_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::strncpy(g_script, lab_script().c_str(), sizeof(g_script) - 1);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    std::atexit(teardown_all_signal_safe);
  });
}

void register_lab(const std::string& prefix) {
  install_handlers_once();
  std::lock_guard lk(g_mu);
  for (auto& l : g_labs) {
    if (!l.used) {
      std::strncpy(l.prefix, prefix.c_str(), sizeof(l.prefix) - 1);
      l.used = true;
      return;
    }
  }
}

void unregister_lab(const std::string& prefix) {
  std::lock_guard lk(g_mu);
  for (auto& l : g_labs) {
    if (l.used && prefix == l.prefix) l.used = false;
  }
}

std::string describe(const ExecResult& r) {
  std::string s = r.err.empty() ? r.out : r.err;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s + " (exit " + std::to_string(r.exit_code) + ")";
}

}  // namespace

std::string random_prefix() {
  static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string p = "t";
  for (int i = 0; i < 5; ++i) p += chars[rd() % 36];
  return p;
}

const std::vector<LineInfo>& lines() {
  static const std::vector<LineInfo> all = [] {
    std::vector<LineInfo> v;
    const char* names[] = {"eth1", "eth2", "wwan0", "wwan1"};
    const char* isps[] = {"isp-eth", "isp-dsl", "isp-cell1", "isp-cell2"};
    for (int i = 0; i < 4; ++i) {
      std::string n = std::to_string(i + 1);
      v.push_back({names[i], isps[i], i + 1, "198.18." + n + ".2", "198.18." + n + ".1", "2001:db8:" + n + "::2",
                   "2001:db8:" + n + "::1"});
    }
    return v;
  }();
  return all;
}

const LineInfo& line_info(const std::string& name) {
  for (const auto& l : lines())
    if (l.name == name) return l;
  throw std::invalid_argument("no line named " + name + " (eth1, eth2, wwan0, wwan1)");
}

Lab::Lab(std::string prefix) : prefix_(std::move(prefix)) {}

Lab::~Lab() {
  if (up_) (void)down();
}

Result<void> Lab::up(const std::vector<std::string>& options) {
  register_lab(prefix_);  // before creating anything: an interrupt mid-up still cleans
  setenv("UPLINK_LAB_OWNER", std::to_string(getpid()).c_str(), 1);
  // Labs whose test process was SIGKILLed (e.g. a CTest timeout) are removed here.
  (void)run_command({lab_script(), "gc"}, std::chrono::seconds(30));
  std::vector<std::string> argv = {lab_script(), "--prefix", prefix_, "up"};
  argv.insert(argv.end(), options.begin(), options.end());
  auto r = run_command(argv, std::chrono::seconds(30));
  if (!r.ok()) {
    (void)down();
    return make_error("uplink-lab up --prefix " + prefix_ + " failed: " + describe(r) + "; lab removed");
  }
  up_ = true;
  return {};
}

Result<void> Lab::down() {
  auto r = run_command({lab_script(), "--prefix", prefix_, "down"}, std::chrono::seconds(30));
  up_ = false;
  unregister_lab(prefix_);
  if (!r.ok()) return make_error("uplink-lab down --prefix " + prefix_ + " failed: " + describe(r));
  return {};
}

Result<void> Lab::fault(const std::string& line, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {lab_script(), "--prefix", prefix_, "fault", line};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv, std::chrono::seconds(10));
  if (!r.ok()) return make_error("fault " + line + ": " + describe(r));
  return {};
}

ExecResult Lab::exec(const std::string& node, const std::vector<std::string>& argv,
                     std::chrono::milliseconds timeout) {
  std::vector<std::string> full = {"ip", "netns", "exec", ns(node)};
  full.insert(full.end(), argv.begin(), argv.end());
  return run_command(full, timeout);
}

Child Lab::spawn(const std::string& node, const std::vector<std::string>& argv, const std::string& log_path) {
  // `ip netns exec` execs the program: the Child's PID is the program's own.
  std::vector<std::string> full = {"ip", "netns", "exec", ns(node)};
  full.insert(full.end(), argv.begin(), argv.end());
  return Child(full, log_path);
}

ExecResult Lab::status_json() {
  return run_command({lab_script(), "--prefix", prefix_, "status", "--json"}, std::chrono::seconds(10));
}

Result<void> Lab::pin_line(const std::string& line) {
  const LineInfo& l = line_info(line);
  std::string table = std::to_string(900 + l.n), pref = std::to_string(90 + l.n);
  std::vector<std::vector<std::string>> cmds = {
      {"ip", "route", "replace", "203.0.113.0/24", "via", l.gateway, "dev", l.name, "table", table},
      {"ip", "route", "replace", "10.200.0.0/16", "via", l.gateway, "dev", l.name, "table", table},
      {"ip", "rule", "add", "from", l.address, "table", table, "pref", pref},
      {"ip", "-6", "route", "replace", "2001:db8:ffff::/48", "via", l.gateway6, "dev", l.name, "table", table},
      {"ip", "-6", "rule", "add", "from", l.address6, "table", table, "pref", pref},
  };
  for (const auto& c : cmds) {
    auto r = exec("router", c, std::chrono::seconds(5));
    if (!r.ok()) {
      std::string cmd;
      for (const auto& w : c) cmd += (cmd.empty() ? "" : " ") + w;
      return make_error("pin_line " + line + ": '" + cmd + "': " + describe(r));
    }
  }
  return {};
}

Result<void> Lab::unpin_line(const std::string& line) {
  const LineInfo& l = line_info(line);
  std::string table = std::to_string(900 + l.n), pref = std::to_string(90 + l.n);
  (void)exec("router", {"ip", "rule", "del", "pref", pref}, std::chrono::seconds(5));
  (void)exec("router", {"ip", "-6", "rule", "del", "pref", pref}, std::chrono::seconds(5));
  (void)exec("router", {"ip", "route", "flush", "table", table}, std::chrono::seconds(5));
  (void)exec("router", {"ip", "-6", "route", "flush", "table", table}, std::chrono::seconds(5));
  return {};
}

std::optional<int64_t> parse_wall_ms(const std::string& iso) {
  std::tm tm{};
  int ms = 0;
  // format_wall_time(): "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", UTC.
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t secs = timegm(&tm);
  if (secs == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(secs) * 1000 + ms;
}

}  // namespace uplink::lab
