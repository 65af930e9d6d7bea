// failover: how long LAN traffic is cut when the active line loses its upstream
// (issue 5 benchmark; run on demand, as root).
//
//   sudo <build>/bin/failover [--trials 20] [--quick] [--rate 1000] [--conntrack-flows N]
//                             [--programmer-bench PATH | --no-programmer]
//
// (a) A 1,000 packets/s UDP stream from `lan` to core, uplinkd in `router` with
//     config/lab.toml's links and probe profile (the defaults: 1 s interval,
//     100 ms fast interval, down_after 3, auto timeout) and a failover policy
//     wan1 (tier 1) -> wan2 (tier 2). Per trial, at a random phase of the probe
//     schedule: `upstream-down` on eth1; at the receiver in core:
//       gap       = first packet via wan2 - last packet via wan1
//       detection = uplinkd's "wan1 -> down" event time - last packet via wan1
//       gap - detection = from the decision to traffic flowing on the backup
//     Goals: gap <= detection + 50 ms; gap p50 <= 1 s with the default profile.
//     --conntrack-flows N: before each fault, N other one-packet LAN flows via
//     wan1 (conntrack entries the failover must delete too: the moved stream's
//     own entry is among them, so the flush is on the path of the gap).
// (b) Decision -> kernel programmed with 10,000 flows in conntrack: measured by
//     src/net/programmer_bench (its own namespace); run and quoted here.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/percentile.h"
#include "routing_lab.h"

using namespace uplink::lab;
using namespace uplink::lab::routing;
using namespace std::chrono_literals;

namespace {

const std::string kPolicy = failover_tiers({"wan1", "wan2"});

struct Trial {
  double gap_ms = 0, detection_ms = 0, lost = 0;
};

struct Stats {
  double p50, p95, max;
};

Stats stats(const std::vector<double>& v) {
  return {uplink::percentile(v, 0.5), uplink::percentile(v, 0.95), uplink::percentile(v, 1)};
}

void print_row(const char* what, const std::vector<double>& v, const char* unit) {
  auto s = stats(v);
  std::printf("  %-34s p50 %8.1f %s   p95 %8.1f %s   max %8.1f %s\n", what, s.p50, unit, s.p95, unit, s.max, unit);
}

bool ready(Uplinkd& d) {
  return wait_for(
      [&] {
        auto s = d.status();
        return state_of(s, "wan1") == "up" && state_of(s, "wan2") == "up" &&
               active_members(s, "default") == std::vector<std::string>{"wan1"};
      },
      30s, 100ms);
}

// One failover of a fresh stream; nullopt (with a message) if it could not be measured.
std::optional<Trial> run_trial(Lab& lab, Uplinkd& d, const std::filesystem::path& dir, int n, int rate,
                               int conntrack_flows, std::mt19937& rng) {
  const uint16_t port = static_cast<uint16_t>(6000 + n % 1000);
  FlowReceiver recv(lab, port, dir / ("recv-" + std::to_string(n) + ".log"));
  FlowStream stream(lab, "lan", "203.0.113.1", port, static_cast<uint32_t>(n), rate,
                    dir / ("send-" + std::to_string(n) + ".log"));
  auto on = [&](const std::string& link) {
    return wait_for(
        [&] {
          auto r = recv.snapshot();
          const FlowRecord* f = r.ok() ? r->flow(static_cast<uint32_t>(n)) : nullptr;
          return f && !f->segments.empty() && link_of_source(f->segments.back().src) == link;
        },
        10s, 20ms);
  };
  if (!on("wan1")) {
    std::fprintf(stderr, "trial %d: the stream never arrived via wan1\n", n);
    return std::nullopt;
  }
  if (conntrack_flows > 0) {
    // Source ports 2000.. stay below the ephemeral range (32768..) the stream's socket uses.
    auto sent = send_flows(lab, "lan", "203.0.113.1", 9, conntrack_flows, 1000000, 2000, 1, 20000);
    if (sent.value("sent", 0) != conntrack_flows) {
      std::fprintf(stderr, "trial %d: background flows: %s\n", n, sent.dump().c_str());
      return std::nullopt;
    }
  }
  // A random phase against the 1 s probe schedule: detection varies with it.
  std::this_thread::sleep_for(std::chrono::milliseconds(300 + std::uniform_int_distribution<int>(0, 999)(rng)));
  const int64_t faulted = realtime_ns();
  if (auto r = lab.fault("eth1", {"upstream-down"}); !r.ok()) {
    std::fprintf(stderr, "trial %d: %s\n", n, r.error().message.c_str());
    return std::nullopt;
  }
  bool moved = on("wan2");
  std::this_thread::sleep_for(100ms);
  stream.stop();
  auto report = recv.stop();
  (void)lab.fault("eth1", {"clear"});
  if (!moved || !report.ok()) {
    std::fprintf(stderr, "trial %d: the stream did not move to wan2 within 10 s\n", n);
    return std::nullopt;
  }
  const FlowRecord* f = report->flow(static_cast<uint32_t>(n));
  if (!f || f->segments.size() != 2) {
    std::fprintf(stderr, "trial %d: expected segments wan1, wan2; got %zu\n", n, f ? f->segments.size() : 0);
    return std::nullopt;
  }
  const Segment &a = f->segments[0], &b = f->segments[1];
  std::optional<int64_t> down_at;
  for (const auto& e : d.events()) {
    if (e.link == "wan1" && e.to == "down" && e.ts_ns >= faulted - 5'000'000) {
      down_at = e.ts_ns;
      break;
    }
  }
  if (!down_at) {
    std::fprintf(stderr, "trial %d: no 'wan1 -> down' event after the fault\n", n);
    return std::nullopt;
  }
  Trial t;
  t.gap_ms = static_cast<double>(b.first_ns - a.last_ns) / 1e6;
  t.detection_ms = static_cast<double>(*down_at - a.last_ns) / 1e6;
  t.lost = static_cast<double>(b.first_seq - a.last_seq - 1);
  return t;
}

void run_programmer_bench(const std::string& path) {
  std::printf("\n(b) decision -> kernel programmed (src/net/programmer_bench, its own namespace):\n");
  if (!std::filesystem::exists(path)) {
    std::printf("  not built: %s (ninja programmer_bench)\n", path.c_str());
    return;
  }
  std::printf("  %s\n", path.c_str());
  auto r = run_command({path}, std::chrono::minutes(5));
  std::fputs(r.out.c_str(), stdout);
  if (!r.ok()) std::printf("  exit %d: %s\n", r.exit_code, r.err.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int trials = 20, rate = 1000, conntrack_flows = 0;
  bool programmer = true;
  std::string programmer_path = std::string(UPLINK_BUILD_DIR) + "/src/net/programmer_bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") trials = 5;
    else if (a == "--trials" && i + 1 < argc) trials = std::max(1, std::atoi(argv[++i]));
    else if (a == "--rate" && i + 1 < argc) rate = std::max(10, std::atoi(argv[++i]));
    else if (a == "--programmer-bench" && i + 1 < argc) programmer_path = argv[++i];
    else if (a == "--conntrack-flows" && i + 1 < argc) conntrack_flows = std::clamp(std::atoi(argv[++i]), 0, 30000);
    else if (a == "--no-programmer") programmer = false;
    else {
      std::fprintf(stderr,
                   "usage: failover [--trials N] [--quick] [--rate PPS] [--conntrack-flows N] "
                   "[--programmer-bench PATH | --no-programmer]\n");
      return 2;
    }
  }
  if (!std::filesystem::exists(uplinkd_path())) {
    std::fprintf(stderr, "failover: uplinkd not built (%s)\n", uplinkd_path().c_str());
    return 1;
  }
  Lab lab;
  if (auto r = lab.up(); !r.ok()) {
    std::fprintf(stderr, "failover: lab up: %s\n", r.error().message.c_str());
    return 1;
  }
  const auto dir = std::filesystem::temp_directory_path() / ("uplink-failover-" + lab.prefix());
  std::filesystem::create_directories(dir);
  int rc = 0;
  {
    Uplinkd d(lab, dir);
    if (auto r = d.start(lab_config_with(kPolicy)); !r.ok()) {
      std::fprintf(stderr, "failover: %s\n", r.error().message.c_str());
      rc = 1;
    }
    std::mt19937 rng(std::random_device{}());
    std::vector<Trial> done;
    std::printf("(a) failover of a %d packets/s UDP stream lan -> core, upstream-down on the active line (eth1),\n"
                "    lab.toml probe profile (interval 1s, fast_interval 100ms, down_after 3, timeout auto), %d trials,\n"
                "    %d other LAN flows via wan1 in conntrack at the fault\n",
                rate, trials, conntrack_flows);
    for (int n = 1; rc == 0 && n <= trials; ++n) {
      if (!ready(d)) {
        std::fprintf(stderr, "failover: wan1/wan2 not up with wan1 active within 30 s (trial %d); log %s\n", n,
                     (dir / "uplinkd-1.log").c_str());
        rc = 1;
        break;
      }
      auto t = run_trial(lab, d, dir, n, rate, conntrack_flows, rng);
      if (!t) continue;
      std::printf("  trial %2d: gap %7.1f ms  detection %7.1f ms  gap-detection %6.1f ms  lost %4.0f packets\n", n,
                  t->gap_ms, t->detection_ms, t->gap_ms - t->detection_ms, t->lost);
      std::fflush(stdout);
      done.push_back(*t);
    }
    if (!done.empty()) {
      std::vector<double> gap, det, diff, lost;
      int within = 0;
      for (const auto& t : done) {
        gap.push_back(t.gap_ms);
        det.push_back(t.detection_ms);
        diff.push_back(t.gap_ms - t.detection_ms);
        lost.push_back(t.lost);
        within += t.gap_ms <= t.detection_ms + 50;
      }
      std::printf("\n  %zu of %d trials measured\n", done.size(), trials);
      print_row("gap at the receiver", gap, "ms");
      print_row("detection (event - last packet)", det, "ms");
      print_row("gap - detection", diff, "ms");
      print_row("packets lost", lost, "  ");
      std::printf("  goal gap <= detection + 50 ms: %d of %zu trials; goal gap p50 <= 1000 ms: %s\n", within,
                  done.size(), stats(gap).p50 <= 1000 ? "met" : "NOT met");
    } else {
      rc = 1;
    }
    if (d.stop() != 0) std::fprintf(stderr, "failover: uplinkd did not exit cleanly; log in %s\n", dir.c_str());
  }
  if (programmer) run_programmer_bench(programmer_path);
  if (rc == 0) std::filesystem::remove_all(dir);
  else std::fprintf(stderr, "failover: logs kept in %s\n", dir.c_str());
  return lab.down().ok() ? rc : 1;
}
