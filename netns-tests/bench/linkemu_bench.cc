// linkemu_bench: measured accuracy and capacity of one lab line (run on demand, as root).
//   delay accuracy: 2,000 UDP probes at 1,000/s through a line with 20 ms added;
//                   error = RTT - 20 ms - RTT of the clean line (median, p95, max)
//   throughput:     a UDP blast (1400-byte payload, as fast as the socket goes)
//                   for 2 s at zero delay, received Mbit/s at core
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "harness/lab.h"

using namespace uplink::lab;
using namespace std::chrono_literals;

namespace {

nlohmann::json probe_train(Lab& lab, int count) {
  auto r = lab.exec("router", {bin_dir() + "/udp-probe", "--target", "203.0.113.1", "--bind", "198.18.1.2", "--count",
                               std::to_string(count), "--interval-us", "1000", "--wait-ms", "500", "--rtts"});
  return nlohmann::json::parse(r.out, nullptr, false);
}

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[static_cast<size_t>(q * (v.size() - 1))];
}

}  // namespace

int main() {
  Lab lab;
  if (auto r = lab.up(); !r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  if (auto r = lab.pin_line("eth1"); !r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  auto clean = probe_train(lab, 1000);
  double base = clean["rtt_ms"]["p50"].get<double>();
  (void)lab.fault("eth1", {"delay", "20"});
  auto j = probe_train(lab, 2000);
  std::vector<double> err;
  for (const auto& v : j["rtts"]) {
    if (v.get<double>() >= 0) err.push_back(std::abs(v.get<double>() - 20.0 - base));
  }
  std::printf("delay accuracy @1000 pkt/s, 20 ms added, clean-line RTT %.3f ms subtracted: n=%zu\n", base, err.size());
  std::printf("  |error| median %.3f ms, p95 %.3f ms, p99 %.3f ms, max %.3f ms; lost %d\n", pct(err, 0.5),
              pct(err, 0.95), pct(err, 0.99), pct(err, 1.0), 2000 - j["received"].get<int>());
  (void)lab.fault("eth1", {"clear"});

  Child sink = lab.spawn("core", {bin_dir() + "/udp-sink", "--port", "5009"}, "/tmp/linkemu_bench_sink.json");
  std::this_thread::sleep_for(200ms);
  auto b = lab.exec("router", {bin_dir() + "/udp-blast", "--target", "203.0.113.1", "--port", "5009", "--bind",
                               "198.18.1.2", "--rate-kbit", "0", "--size", "1400", "--duration-ms", "2000"});
  std::this_thread::sleep_for(300ms);
  sink.stop();
  auto s = nlohmann::json::parse(sink.log(), nullptr, false);
  auto sent = nlohmann::json::parse(b.out, nullptr, false);
  if (!s.is_discarded() && s["sources"].contains("198.18.1.2") && !sent.is_discarded()) {
    auto src = s["sources"]["198.18.1.2"];
    double secs = (src["last_ns"].get<double>() - src["first_ns"].get<double>()) / 1e9;
    double mbit = src["bytes"].get<double>() * 8 / secs / 1e6;
    std::printf("throughput @0 delay, UDP 1400 B: %.0f Mbit/s payload (%.0f kpkt/s); offered %.0f Mbit/s, %llu sent, "
                "%llu received\n",
                mbit, src["packets"].get<double>() / secs / 1e3,
                sent["bytes"].get<double>() * 8 / sent["secs"].get<double>() / 1e6,
                sent["sent"].get<unsigned long long>(), src["packets"].get<unsigned long long>());
  } else {
    std::printf("throughput: no data (%s)\n", b.err.c_str());
  }
  return lab.down().ok() ? 0 : 1;
}
