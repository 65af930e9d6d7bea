// detect_bench: how fast LinkMonitor + the real icmp prober notice a dead or
// lossy upstream, and what probing costs. Self-contained (until the lab's
// uplink-lab lands): two private namespaces joined by a veth, targets on lo
// in the far one, faults injected with nft in the far one:
//   upstream-down  = drop everything from the prober side (carrier stays up)
//   30 % loss      = numgen random mod 100 < 30 drop
// Needs root. Usage: detect_bench [--quick]   (--quick: 5 trials, 30 s steady loss)
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "probe/link_monitor.h"
#include "probe/prober_factory.h"

using namespace uplink;
using namespace uplink::probe;
using namespace std::chrono_literals;

namespace {

std::string A, B;  // namespace names
int root_ns = -1;

int sh(const std::string& c) { return std::system((c + " >/dev/null 2>&1").c_str()); }
bool enter(const std::string& ns) {
  int fd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}
void cleanup() {
  if (root_ns >= 0) setns(root_ns, CLONE_NEWNET);
  sh("ip netns del " + A);
  sh("ip netns del " + B);
}
bool setup() {
  std::string pa = "ip -n " + A + " ", pb = "ip -n " + B + " ";
  for (const std::string& c :
       {"ip netns add " + A, "ip netns add " + B,
        "ip link add " + A + "0 netns " + A + " type veth peer name " + B + "0 netns " + B, pa + "link set lo up",
        pb + "link set lo up", pa + "link set " + A + "0 up", pb + "link set " + B + "0 up",
        pa + "addr add 10.78.0.1/30 dev " + A + "0", pb + "addr add 10.78.0.2/30 dev " + B + "0",
        pb + "addr add 203.0.113.1/32 dev lo", pb + "addr add 203.0.113.2/32 dev lo",
        pb + "addr add 203.0.113.3/32 dev lo", pa + "route add default via 10.78.0.2 table 100",
        pa + "rule add fwmark 0x100 lookup 100 priority 100", "ip netns exec " + B + " nft add table inet bench",
        "ip netns exec " + B + " nft 'add chain inet bench in { type filter hook input priority 0; }'"}) {
    if (sh(c) != 0) {
      std::fprintf(stderr, "setup failed: %s\n", c.c_str());
      return false;
    }
  }
  return true;
}
void fault_clear() { sh("ip netns exec " + B + " nft flush chain inet bench in"); }
void fault_down() { sh("ip netns exec " + B + " nft add rule inet bench in ip saddr 10.78.0.1 drop"); }
void fault_loss(int pct) {
  sh("ip netns exec " + B + " nft add rule inet bench in ip saddr 10.78.0.1 numgen random mod 100 '<' " +
     std::to_string(pct) + " drop");
}

LinkConfig link_config(const std::string& name, int targets, int reliability) {
  LinkConfig l;
  l.name = name;
  l.interface = A + "0";
  l.fwmark = 0x100;
  for (int i = 1; i <= targets; ++i) {
    std::string ip = "203.0.113." + std::to_string(i);
    l.probe.targets.push_back(ProbeTarget{*IpAddress::parse(ip), 0, ip});
  }
  l.probe.reliability = reliability;
  return l;
}

struct Profile {
  std::string name;
  LinkConfig link;
  MonitorOptions opt;
};

Profile default_profile() { return {"default (1s/100ms, 3 targets, 2 of 3, down_after 3)", link_config("wan1", 3, 2), {}}; }
Profile aggressive_profile() {
  Profile p{"aggressive (2 targets x 200ms = 10 probes/s, fast 50ms, down_after 2, timeout floor 20ms)",
            link_config("wan1", 2, 1), {}};
  p.link.probe.interval = 200ms;
  p.link.probe.fast_interval = 50ms;
  p.link.probe.down_after = 2;
  p.link.probe.up_after = 3;
  p.opt.timeout.min = 20ms;
  return p;
}

// One monitor on its own io_context thread; events are time-stamped there.
struct Running {
  boost::asio::io_context io;
  AsioTimeSource time{io};
  RealProberFactory factory{io};
  std::unique_ptr<LinkMonitor> mon;
  std::mutex mu;
  std::vector<std::pair<TimePoint, LinkEvent>> events;
  std::thread thread;
  std::atomic<bool> stop{false};

  explicit Running(const Profile& p) {
    mon = std::make_unique<LinkMonitor>(p.link, time, factory, [this](const LinkEvent& e) {
      std::lock_guard<std::mutex> g(mu);
      events.emplace_back(SteadyClock::now(), e);
    }, p.opt);
    mon->start();
    thread = std::thread([this] {
      while (!stop) io.run_for(50ms);
    });
  }
  ~Running() {
    stop = true;
    thread.join();
    mon.reset();
  }
  // First event to `to` at or after `from`, waiting at most `limit`.
  std::optional<TimePoint> wait_for(LinkState to, TimePoint from, Duration limit) {
    auto end = SteadyClock::now() + limit;
    while (SteadyClock::now() < end) {
      {
        std::lock_guard<std::mutex> g(mu);
        for (auto& [t, e] : events)
          if (t >= from && e.to == to) return t;
      }
      std::this_thread::sleep_for(2ms);
    }
    return std::nullopt;
  }
  size_t changes_since(TimePoint from) {
    std::lock_guard<std::mutex> g(mu);
    return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](auto& p) { return p.first >= from; }));
  }
};

double ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
void report(const std::string& what, std::vector<double> v, int trials) {
  if (v.empty()) {
    std::printf("%-60s no successful trial of %d\n", what.c_str(), trials);
    return;
  }
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))]; };
  std::printf("%-60s p50 %7.0f ms  p95 %7.0f ms  max %7.0f ms  (%zu/%d trials)\n", what.c_str(), pct(0.5), pct(0.95),
              v.back(), v.size(), trials);
  std::fflush(stdout);
}

// Cut -> down, trials with a random phase against the probe schedule.
void bench_cut(const Profile& p, int trials, std::mt19937& rng) {
  std::vector<double> got, nft_ms;
  for (int i = 0; i < trials; ++i) {
    fault_clear();
    Running r(p);
    if (!r.wait_for(LinkState::up, TimePoint{}, 10s)) continue;
    std::uniform_int_distribution<int> phase(0, static_cast<int>(ms(p.link.probe.interval)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + phase(rng)));
    TimePoint cut = SteadyClock::now();  // before nft runs: conservative by its few ms
    fault_down();
    nft_ms.push_back(ms(SteadyClock::now() - cut));
    if (auto t = r.wait_for(LinkState::down, cut, 10s)) got.push_back(ms(*t - cut));
  }
  fault_clear();
  report("cut -> down, " + p.name, got, trials);
  report("  (of which: the nft command that cuts)", nft_ms, trials);
}

void bench_loss(const Profile& p, int trials, Duration steady) {
  Profile q = p;
  q.link.quality = QualityConfig{};
  q.link.quality->max_loss = 5;
  std::vector<double> got;
  for (int i = 0; i < trials; ++i) {
    fault_clear();
    Running r(q);
    if (!r.wait_for(LinkState::up, TimePoint{}, 10s)) continue;
    std::this_thread::sleep_for(1500ms);
    TimePoint onset = SteadyClock::now();
    fault_loss(30);
    if (auto t = r.wait_for(LinkState::degraded, onset, 20s)) got.push_back(ms(*t - onset));
  }
  fault_clear();
  report("30% loss -> degraded (max_loss 5%), default profile", got, trials);

  Running r(q);
  r.wait_for(LinkState::up, TimePoint{}, 10s);
  TimePoint onset = SteadyClock::now();
  fault_loss(30);
  auto first = r.wait_for(LinkState::degraded, onset, 20s);
  std::this_thread::sleep_for(steady);
  size_t after = first ? r.changes_since(*first + 1ns) : 0;
  std::printf("steady 30%% loss for %.0f s: first change %s, state changes after it: %zu (measured loss %.1f%%)\n",
              std::chrono::duration<double>(steady).count(), first ? "up -> degraded" : "NONE", after,
              r.mon->quality().loss_pct.value_or(-1));
  // Same without quality thresholds: the link must simply stay up.
  fault_clear();
  Running plain(p);
  plain.wait_for(LinkState::up, TimePoint{}, 10s);
  TimePoint t0 = SteadyClock::now();
  fault_loss(30);
  std::this_thread::sleep_for(steady);
  std::printf("steady 30%% loss for %.0f s without quality thresholds: state changes %zu (stays %s)\n",
              std::chrono::duration<double>(steady).count(), plain.changes_since(t0),
              std::string(to_string(plain.mon->state())).c_str());
  fault_clear();
  std::fflush(stdout);
}

void bench_metered(int trials, std::mt19937& rng) {
  for (Duration ivl : {5000ms, 1000ms}) {
    Profile p{"metered cellular, interval " + std::to_string(static_cast<int>(ms(ivl))) + "ms", link_config("cell1", 3, 2), {}};
    p.link.kind = LinkKind::cellular;
    p.link.metered = true;
    p.link.probe.interval = ivl;
    fault_clear();
    {
      Running r(p);
      r.wait_for(LinkState::up, TimePoint{}, 10s);
      std::this_thread::sleep_for(3s);
      // Bytes from the prober's own counter over a steady minute.
      auto json0 = std::make_shared<nlohmann::json>();
      std::atomic<bool> got{false};
      boost::asio::post(r.io, [&] { *json0 = r.mon->stats_json(); got = true; });
      while (!got) std::this_thread::sleep_for(1ms);
      std::this_thread::sleep_for(60s);
      got = false;
      auto json1 = std::make_shared<nlohmann::json>();
      boost::asio::post(r.io, [&] { *json1 = r.mon->stats_json(); got = true; });
      while (!got) std::this_thread::sleep_for(1ms);
      uint64_t s0 = 0, s1 = 0;
      for (auto& t : (*json0)["targets"]) s0 += t["sent"].get<uint64_t>();
      for (auto& t : (*json1)["targets"]) s1 += t["sent"].get<uint64_t>();
      double per_s = static_cast<double>(s1 - s0) * 44 / 60.0;
      std::printf("%-60s probes %.2f/s, %.1f B/s sent (+ same in replies), monitor's rate %.1f B/s\n", p.name.c_str(),
                  static_cast<double>(s1 - s0) / 60.0, per_s, (*json1)["probe_bytes_per_s"].get<double>());
    }
    bench_cut(p, trials, rng);
  }
}

void bench_cpu() {
  // 4 links x 3 targets at 10 probes/s each: interval 300ms (3 targets / 0.3 s).
  std::vector<std::unique_ptr<Running>> links;
  struct rusage u0, u1;
  for (int i = 0; i < 4; ++i) {
    Profile p{"cpu", link_config("wan" + std::to_string(i), 3, 2), {}};
    p.link.probe.interval = 300ms;
    links.push_back(std::make_unique<Running>(p));
  }
  std::this_thread::sleep_for(2s);
  getrusage(RUSAGE_SELF, &u0);
  auto t0 = SteadyClock::now();
  std::this_thread::sleep_for(60s);
  getrusage(RUSAGE_SELF, &u1);
  double wall = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  double cpu = tv(u1.ru_utime) - tv(u0.ru_utime) + tv(u1.ru_stime) - tv(u0.ru_stime);
  std::printf("4 links x 3 targets at 10 probes/s (4 io threads here, 1 in uplinkd): CPU %.2f%% of a core, max RSS %.1f MB\n",
              100 * cpu / wall, static_cast<double>(u1.ru_maxrss) / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "detect_bench: needs root (network namespaces); nothing done\n");
    return 2;
  }
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  int trials = quick ? 5 : 20;
  Duration steady = quick ? Duration(30s) : Duration(120s);
  set_log_level("warn");
  A = "udb" + std::to_string(getpid() % 100000) + "a";
  B = "udb" + std::to_string(getpid() % 100000) + "b";
  root_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (!setup() || !enter(A)) {
    cleanup();
    return 1;
  }
  std::mt19937 rng(1);
  bench_cut(default_profile(), trials, rng);
  bench_cut(aggressive_profile(), trials, rng);
  bench_loss(default_profile(), trials, steady);
  bench_metered(quick ? 3 : 10, rng);
  bench_cpu();
  cleanup();
  return 0;
}
