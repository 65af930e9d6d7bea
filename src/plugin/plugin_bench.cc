// plugin_bench: the plugin host's figures (issue 14), medians over runs.
//
//   samples/s into a plugin over IPC   (goal >= 200,000/s)   counter plugin, daemon side -> host -> on_samples
//   messages/s out of a plugin         (goal >= 50,000/s)    counter plugin "burst" -> host -> MessageSink
//   crash -> processing again          (goal <= 1 s)         misbehave crash_after, first restart
//   hang -> detected                   (goal <= heartbeat_timeout + 1 s)
//   model swap under 10,000 samples/s  (goal 0 samples lost)
//
// usage: plugin_bench [--runs N] [--host PATH] [--plugins DIR]
// The sink counts messages (the IPC path); the durable queue's own rate is
// the uplink's benchmark (src/uplink/queue_bench.cc).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "plugin/plugin_runner.h"

using namespace uplink;
using namespace uplink::plugin;
using namespace std::chrono_literals;

namespace {

std::string g_host = UPLINK_PLUGIN_HOST;
std::string g_plugins = UPLINK_TESTPLUGIN_DIR;

struct CountingSink : MessageSink {
  uint64_t n = 0;
  std::string last_topic, last_payload;
  bool submit(std::string_view, std::string_view, std::string_view topic, std::string_view payload) override {
    ++n;
    if (topic != "bench/burst") {
      last_topic = std::string(topic);
      last_payload = std::string(payload);
    }
    return true;
  }
};

struct Bench {
  boost::asio::io_context io;
  AsioTimeSource time{io};
  CountingSink sink;
  std::vector<std::pair<TimePoint, RunnerEvent>> events;
  std::unique_ptr<PluginRunner> runner;

  explicit Bench(PluginConfig c) {
    RunnerOptions o;
    o.host_path = g_host;
    LimitsMode limits;
    runner = std::make_unique<PluginRunner>(io, time, o, std::move(c), limits, &sink,
                                            [this](const RunnerEvent& e) { events.emplace_back(time.now(), e); });
    runner->start();
  }
  bool run_until(const std::function<bool()>& pred, Duration limit) {
    auto deadline = SteadyClock::now() + limit;
    while (!pred()) {
      if (SteadyClock::now() > deadline) return false;
      io.restart();
      io.run_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  size_t count(const std::string& ev) const {
    return size_t(std::count_if(events.begin(), events.end(), [&](auto& e) { return e.second.event == ev; }));
  }
  std::optional<TimePoint> when(const std::string& ev, size_t nth = 1) const {
    size_t n = 0;
    for (auto& e : events)
      if (e.second.event == ev && ++n == nth) return e.first;
    return std::nullopt;
  }
};

PluginConfig cfg(const std::string& so, const std::string& json, Duration heartbeat = 10s) {
  PluginConfig c;
  c.name = "bench";
  c.path = g_plugins + "/" + so + ".so";
  c.heartbeat_timeout = heartbeat;
  c.config_json = json;
  return c;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double secs(Duration d) { return std::chrono::duration<double>(d).count(); }

double samples_per_second(uint64_t n) {
  Bench b(cfg("counter", "{\"every\": " + std::to_string(n) + "}"));
  if (!b.run_until([&] { return b.count("ready") == 1; }, 5s)) return -1;
  auto t0 = SteadyClock::now();
  uint64_t sent = 0;
  while (sent < n) {
    if (b.runner->queued_bytes() < (2u << 20)) {
      for (int i = 0; i < 4096 && sent < n; ++i, ++sent) b.runner->submit_sample("sensor.temp", 1.0 * double(sent), 20.5);
    }
    b.io.restart();
    b.io.poll();
  }
  if (!b.run_until([&] { return b.sink.last_topic == "counter/summary"; }, 60s)) return -1;
  auto t1 = SteadyClock::now();
  if (b.runner->counters().samples_dropped) std::fprintf(stderr, "  (dropped %llu)\n", (unsigned long long)b.runner->counters().samples_dropped);
  return double(n) / secs(t1 - t0);
}

double messages_per_second(uint64_t bursts, uint64_t per_burst) {
  Bench b(cfg("counter", "{}"));
  if (!b.run_until([&] { return b.count("ready") == 1; }, 5s)) return -1;
  auto t0 = SteadyClock::now();
  for (uint64_t i = 0; i < bursts; ++i) b.runner->submit_sample("burst", 0, double(per_burst));
  uint64_t want = bursts * per_burst;
  bool ok = b.run_until([&] { return b.sink.n >= want; }, 60s);
  auto t1 = SteadyClock::now();
  // Refusals (EFULL) show in the host's stats with the next heartbeat.
  b.run_until([&] { return b.runner->host_stats().messages >= want || b.runner->host_stats().messages_refused > 0; }, 2s);
  if (!ok) {
    std::fprintf(stderr, "  got %llu of %llu (refused %llu)\n", (unsigned long long)b.sink.n,
                 (unsigned long long)want, (unsigned long long)b.runner->host_stats().messages_refused);
    return -1;
  }
  return double(want) / secs(t1 - t0);
}

// Crash on a sample; a sample sent when the exit is seen is echoed again.
std::pair<double, double> crash_to_processing() {
  Bench b(cfg("misbehave", R"({"crash_after": 2, "echo": 1})"));
  if (!b.run_until([&] { return b.count("ready") == 1; }, 5s)) return {-1, -1};
  b.runner->submit_sample("a", 0, 1);
  if (!b.run_until([&] { return b.sink.last_topic == "echo/a"; }, 5s)) return {-1, -1};
  auto t0 = SteadyClock::now();
  b.runner->submit_sample("a", 0, 2);  // crashes
  if (!b.run_until([&] { return b.count("exited") == 1; }, 5s)) return {-1, -1};
  auto t_exit = SteadyClock::now();
  b.runner->submit_sample("after", 0, 3);
  if (!b.run_until([&] { return b.sink.last_topic == "echo/after"; }, 5s)) return {-1, -1};
  auto t1 = SteadyClock::now();
  return {secs(t1 - t0), secs(t1 - t_exit)};
}

double hang_detection(Duration heartbeat) {
  Bench b(cfg("misbehave", R"({"hang_after": 1})", heartbeat));
  if (!b.run_until([&] { return b.count("ready") == 1; }, 5s)) return -1;
  // Let a heartbeat or two go by, as in steady state.
  b.run_until([] { return false; }, 600ms);
  auto t0 = SteadyClock::now();
  b.runner->submit_sample("a", 0, 1);
  if (!b.run_until([&] { return b.count("hung") == 1; }, heartbeat + 5s)) return -1;
  return secs(SteadyClock::now() - t0);
}

// 10,000 samples/s for 2 s, a model installed after 1 s: every sample reaches on_samples.
std::pair<uint64_t, uint64_t> model_swap_loss() {
  std::string dir = (std::filesystem::temp_directory_path() / ("plugin_bench." + std::to_string(getpid()))).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/m.model") << "ok bench";
  auto c = cfg("misbehave", "{}");
  c.model_dir = dir + "/models";
  Bench b(c);
  if (!b.run_until([&] { return b.count("ready") == 1; }, 5s)) return {0, 1};
  uint64_t sent = 0;
  auto t0 = SteadyClock::now();
  bool installed = false;
  while (SteadyClock::now() - t0 < 2s) {
    auto due = uint64_t(secs(SteadyClock::now() - t0) * 10000);
    while (sent < due) b.runner->submit_sample("s", 0, double(sent++));
    if (!installed && SteadyClock::now() - t0 > 1s) {
      installed = bool(b.runner->install_model(dir + "/m.model", std::nullopt));
    }
    b.io.restart();
    b.io.run_for(std::chrono::microseconds(200));
  }
  b.run_until([&] { return b.runner->host_stats().samples >= sent && b.count("model_loaded") == 1; }, 5s);
  std::filesystem::remove_all(dir);
  if (b.count("model_loaded") != 1) std::fprintf(stderr, "  model not loaded\n");
  return {sent, sent - std::min(sent, b.runner->host_stats().samples)};
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--host") && i + 1 < argc) g_host = argv[++i];
    else if (!std::strcmp(argv[i], "--plugins") && i + 1 < argc) g_plugins = argv[++i];
    else {
      std::fprintf(stderr, "usage: plugin_bench [--runs N] [--host PATH] [--plugins DIR]\n");
      return 2;
    }
  }
  std::vector<double> in, out, crash, crash_exit, hang;
  for (int r = 0; r < runs; ++r) {
    in.push_back(samples_per_second(2'000'000));
    out.push_back(messages_per_second(50, 10'000));
    auto [c, ce] = crash_to_processing();
    crash.push_back(c);
    crash_exit.push_back(ce);
    hang.push_back(hang_detection(1s));
    std::fprintf(stderr, "run %d: in %.0f/s, out %.0f/s, crash->processing %.3f s, hang detected %.3f s\n", r + 1,
                 in.back(), out.back(), crash.back(), hang.back());
  }
  auto [sent, lost] = model_swap_loss();
  bool ok = true;
  auto line = [&](const char* what, double v, const char* unit, const char* goal, bool pass) {
    std::printf("%-40s %12.3f %-5s goal %-16s %s\n", what, v, unit, goal, pass ? "ok" : "MISSED");
    ok = ok && pass;
  };
  std::printf("plugin_bench: medians over %d runs\n", runs);
  line("samples/s into a plugin (IPC)", median(in), "/s", ">= 200000", median(in) >= 200000);
  line("messages/s out of a plugin (IPC)", median(out), "/s", ">= 50000", median(out) >= 50000);
  line("crash -> processing again", median(crash), "s", "<= 1", median(crash) >= 0 && median(crash) <= 1.0);
  line("  of which exit seen -> processing", median(crash_exit), "s", "", true);
  line("hang -> detected (heartbeat_timeout 1s)", median(hang), "s", "<= 2", median(hang) >= 0 && median(hang) <= 2.0);
  line("model swap at 10000 samples/s: lost", double(lost), "", "0", lost == 0);
  std::printf("  (%llu samples sent during the swap)\n", (unsigned long long)sent);
  return ok ? 0 : 1;
}
