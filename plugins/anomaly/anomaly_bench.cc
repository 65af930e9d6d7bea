// anomaly_bench: time per sample of the detector (one stream, and 1,000
// interleaved streams) and memory per stream. Not a test: prints figures.
//
//   anomaly_bench [--model FILE] [--csv FILE.csv] [--runs N]
//
// The input is a NAB CSV when given, else a synthetic daily pattern with
// noise and a few spikes (deterministic). Time is the median of N runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "csv.h"
#include "detector.h"
#include "model.h"

using namespace uplink::anomaly;
using Clock = std::chrono::steady_clock;

// CPU time of this thread (what a sample costs on one core, also when the
// machine is shared), in microseconds.
double cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

namespace {

std::vector<double> synthetic(size_t n) {
  std::vector<double> v(n);
  uint64_t s = 42;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    const double noise = static_cast<double>(s >> 11) / static_cast<double>(1ULL << 53) - 0.5;
    v[i] = 50 + 20 * std::sin(2 * M_PI * static_cast<double>(i) / 288.0) + 3 * noise + (i % 5000 == 4000 ? 60 : 0);
  }
  return v;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

volatile double g_sink = 0;

}  // namespace

int main(int argc, char** argv) {
  Params p;
  std::string csv;
  int runs = 7;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--model") && i + 1 < argc) {
      std::string err;
      if (!load_model(argv[++i], p, err)) {
        std::fprintf(stderr, "anomaly_bench: %s\n", err.c_str());
        return 1;
      }
    } else if (!std::strcmp(argv[i], "--csv") && i + 1 < argc) {
      csv = argv[++i];
    } else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: anomaly_bench [--model FILE] [--csv FILE.csv] [--runs N]\n");
      return 2;
    }
  }
  std::vector<double> values;
  std::vector<int64_t> ts;
  if (!csv.empty()) {
    Series s;
    std::string err;
    if (!read_series_file(csv, s, err)) {
      std::fprintf(stderr, "anomaly_bench: %s\n", err.c_str());
      return 1;
    }
    values = s.value;
    ts = s.ts;
  } else {
    values = synthetic(20000);
    for (size_t i = 0; i < values.size(); ++i) ts.push_back((int64_t{1388534400} + int64_t(i) * 300) * 1000000);
  }

  // Single stream.
  std::vector<double> single, single_cpu;
  for (int r = 0; r < runs; ++r) {
    auto det = std::make_unique<Detector>(p);
    const double c0 = cpu_us();
    const auto t0 = Clock::now();
    double acc = 0;
    for (size_t i = 0; i < values.size(); ++i) acc += det->update(ts[i], values[i]).score;
    const auto t1 = Clock::now();
    const double c1 = cpu_us();
    g_sink = g_sink + acc;
    single.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / static_cast<double>(values.size()));
    single_cpu.push_back((c1 - c0) / static_cast<double>(values.size()));
  }

  // 1,000 interleaved streams: each sample goes to every stream in turn
  // (stream k sees the series shifted by k rows), so state does not stay in cache.
  const size_t kStreams = 1000;
  const size_t per_stream = std::min<size_t>(values.size(), 2000);
  std::vector<double> multi, multi_cpu;
  for (int r = 0; r < std::max(1, runs / 2); ++r) {
    std::vector<std::unique_ptr<Detector>> dets;
    dets.reserve(kStreams);
    for (size_t k = 0; k < kStreams; ++k) dets.push_back(std::make_unique<Detector>(p));
    const double c0 = cpu_us();
    const auto t0 = Clock::now();
    double acc = 0;
    for (size_t i = 0; i < per_stream; ++i)
      for (size_t k = 0; k < kStreams; ++k) {
        const size_t j = (i + k) % values.size();
        acc += dets[k]->update(ts[i], values[j]).score;
      }
    const auto t1 = Clock::now();
    const double c1 = cpu_us();
    g_sink = g_sink + acc;
    multi.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() /
                    static_cast<double>(per_stream * kStreams));
    multi_cpu.push_back((c1 - c0) / static_cast<double>(per_stream * kStreams));
  }

  std::printf("input: %s, %zu samples\n", csv.empty() ? "synthetic" : csv.c_str(), values.size());
  std::printf("single stream:            %.3f us/sample CPU, %.3f us/sample wall (median of %d runs)\n",
              median(single_cpu), median(single), runs);
  std::printf("1000 interleaved streams: %.3f us/sample CPU, %.3f us/sample wall (median of %zu runs, %zu samples each)\n",
              median(multi_cpu), median(multi), multi.size(), per_stream);
  std::printf("memory per stream:      %zu bytes (sizeof(Detector); no other buffers)\n", sizeof(Detector));
  return 0;
}
