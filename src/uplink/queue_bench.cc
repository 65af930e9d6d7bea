// Benchmark of the durable uplink queue (a program, not a test).
//
//   uplink_queue_bench ingest  --dir D [--sync batch|always|never] [--count N] [--size 200] [--runs 5] [--window W]
//       durable ingest: N messages of SIZE bytes pushed from the io thread,
//       at most W unacknowledged at a time; the time runs from the first
//       push to the last acknowledgement (after its commit). Median of RUNS.
//   uplink_queue_bench fill    --dir D --count N [--size 200]
//       stores N messages (sync=batch, for `open`).
//   uplink_queue_bench open    --dir D [--runs 5]
//       start-up with the queue as it is: time from start() to ready, and
//       the process RSS before and after (the queue's memory above idle).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/percentile.h"
#include "common/worker.h"
#include "uplink/queue.h"

using namespace uplink;
using namespace std::chrono_literals;

namespace {

struct Args {
  std::string mode, dir, sync = "batch";
  uint64_t count = 200000;
  size_t size = 200;
  int runs = 5;
  uint64_t window = 20000;
};

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

QueueOptions options(const Args& a, SyncMode sync) {
  QueueOptions o;
  o.dir = a.dir;
  o.sync = sync;
  o.max_size = 4ull << 30;
  o.classes = {{"alarm", 24h * 30}, {"telemetry", 24h * 7}};
  return o;
}

SyncMode parse_sync(const std::string& s) { return parse_sync_mode(s).value_or(SyncMode::batch); }

// Pushes `count` messages, keeping at most `window` unacknowledged; returns seconds.
double ingest_once(const Args& a, SyncMode sync) {
  boost::asio::io_context io;
  AsioTimeSource time(io);
  WorkerThread worker("uplink-store");
  AsioExecutor results(io);
  DurableQueue q(time, worker, results, options(a, sync));
  q.start();
  const std::string payload(a.size, 'p');
  uint64_t pushed = 0, acked = 0, failed = 0;
  SteadyClock::time_point t0, t1;
  std::function<void()> pump = [&] {
    size_t n = 0;
    while (pushed < a.count && pushed - acked - failed < a.window && n < 2000) {
      ++pushed;
      ++n;
      q.push(Message{pushed % 10 ? "telemetry" : "alarm", "", payload, {}}, [&](Result<uint64_t> r) {
        if (r.ok()) ++acked;
        else ++failed;
        if (acked + failed == a.count) {
          t1 = SteadyClock::now();
          io.stop();
        } else if (pushed < a.count && pushed - acked - failed < std::max<uint64_t>(1, a.window / 2)) {
          boost::asio::post(io, pump);
        }
      });
    }
    if (pushed < a.count && pushed - acked - failed < a.window) boost::asio::post(io, pump);
  };
  q.on_ready = [&] {
    t0 = SteadyClock::now();
    pump();
  };
  auto guard = boost::asio::make_work_guard(io);  // the worker's answers arrive from another thread
  io.run();
  q.stop();
  worker.stop();
  if (failed) fprintf(stderr, "  %lu refused\n", (unsigned long)failed);
  return std::chrono::duration<double>(t1 - t0).count();
}

int ingest(const Args& a) {
  std::vector<double> rates;
  for (int r = 0; r < a.runs; ++r) {
    std::filesystem::remove_all(a.dir);
    double secs = ingest_once(a, parse_sync(a.sync));
    rates.push_back(double(a.count) / secs);
    printf("run %d: %lu msgs of %zu B, sync=%s: %.3f s, %.0f msg/s\n", r + 1, (unsigned long)a.count, a.size,
           a.sync.c_str(), secs, rates.back());
    fflush(stdout);
  }
  std::filesystem::remove_all(a.dir);
  printf("median: %.0f msg/s (sync=%s, %zu B, window %lu)\n", median(rates), a.sync.c_str(), a.size,
         (unsigned long)a.window);
  return 0;
}

int fill(const Args& a) {
  Args b = a;
  b.window = 50000;
  // batch, not never: under never producers are answered before the commit,
  // so a fast producer outruns the store and is told "busy".
  double secs = ingest_once(b, SyncMode::batch);
  printf("filled %lu messages of %zu B in %.1f s\n", (unsigned long)a.count, a.size, secs);
  return 0;
}

int open_bench(const Args& a) {
  std::vector<double> times;
  long idle = 0, loaded = 0;
  for (int r = 0; r < a.runs; ++r) {
    boost::asio::io_context io;
    AsioTimeSource time(io);
    WorkerThread worker("uplink-store");
    AsioExecutor results(io);
    if (r == 0) idle = rss_kib();
    auto q = std::make_unique<DurableQueue>(time, worker, results, options(a, SyncMode::batch));
    SteadyClock::time_point t0 = SteadyClock::now(), t1;
    q->on_ready = [&] {
      t1 = SteadyClock::now();
      io.stop();
    };
    q->start();
    auto guard = boost::asio::make_work_guard(io);
    io.run();
    times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    // A little of the daemon's steady work with the queue loaded: read the
    // backlog's heads (what replay does) and one commit.
    io.restart();
    int reads = 0;
    for (const auto& c : q->classes())
      q->read(c.name, 0, 256, [&](Result<std::vector<StoredMessage>>) {
        if (++reads == 2) io.stop();
      });
    io.run();
    if (r == 0) loaded = rss_kib();
    printf("run %d: ready in %.1f ms with %lu messages queued\n", r + 1, times.back(), (unsigned long)q->depth());
    q->stop();
    worker.stop();
  }
  printf("median start-up: %.1f ms; RSS idle %ld KiB, with the queue open %ld KiB (+%ld KiB)\n", median(times), idle,
         loaded, loaded - idle);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    fprintf(stderr, "usage: %s ingest|fill|open --dir D [--sync S] [--count N] [--size B] [--runs R] [--window W]\n",
            argv[0]);
    return 2;
  }
  a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--dir") a.dir = v;
    else if (k == "--sync") a.sync = v;
    else if (k == "--count") a.count = std::stoull(v);
    else if (k == "--size") a.size = std::stoul(v);
    else if (k == "--runs") a.runs = std::stoi(v);
    else if (k == "--window") a.window = std::stoull(v);
    else {
      fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (a.dir.empty()) {
    fprintf(stderr, "--dir is required\n");
    return 2;
  }
  set_log_level("warn");
  if (a.mode == "ingest") return ingest(a);
  if (a.mode == "fill") return fill(a);
  if (a.mode == "open") return open_bench(a);
  fprintf(stderr, "unknown mode %s\n", a.mode.c_str());
  return 2;
}
