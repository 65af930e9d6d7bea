#pragma once
// Per-target and per-link probe statistics: smoothed RTT and RTT variation
// (RFC 6298), interarrival jitter (RFC 3550 style, from consecutive RTTs),
// loss over a sliding window of the last N probes, counters, and the
// RTO-like automatic probe timeout.
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/clock.h"

namespace uplink::probe {

// RFC 6298 smoothing. First sample: srtt = R, rttvar = R/2.
class RttEstimator {
 public:
  void add(Duration rtt);
  bool has_sample() const { return has_; }
  Duration srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  // RFC 3550 §6.4.1: J += (|D| - J) / 16, D = difference of consecutive RTTs.
  Duration jitter() const { return jitter_; }
  std::optional<Duration> last() const { return has_ ? std::optional(last_) : std::nullopt; }

 private:
  bool has_ = false;
  Duration srtt_{}, rttvar_{}, jitter_{}, last_{};
};

// Bounds of the automatic timeout: srtt + 4*rttvar clamped to [min, max];
// `initial` until the first sample.
struct TimeoutPolicy {
  Duration min = std::chrono::milliseconds(50);
  Duration max = std::chrono::seconds(3);
  Duration initial = std::chrono::seconds(1);
  Duration compute(const RttEstimator& rtt) const;
};

// The last `capacity` probe outcomes (true = lost).
class LossWindow {
 public:
  explicit LossWindow(size_t capacity = 20) : capacity_(capacity ? capacity : 1) {}
  void add(bool lost);
  void clear() { ring_.clear(); lost_ = 0; }
  size_t samples() const { return ring_.size(); }
  size_t lost() const { return lost_; }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  std::deque<bool> ring_;
  size_t lost_ = 0;
};

struct TargetCounters {
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t lost = 0;    // timed out (a later reply is counted as late, not received)
  uint64_t errors = 0;  // failed to send (ENETUNREACH, EPERM, ...): also lost
  uint64_t late = 0;    // replies that arrived after their probe had timed out
};

struct TargetStats {
  explicit TargetStats(size_t window) : loss(window) {}
  RttEstimator rtt;
  LossWindow loss;
  TargetCounters counters;
  bool last_ok = false;

  void on_sent() { ++counters.sent; }
  void on_reply(Duration rtt_sample);
  void on_lost(bool send_error);
  // A late reply never passes a round, but it proves the timeout too short for
  // this path: its RTT feeds the estimator so an auto timeout grows to fit.
  void on_late(Duration rtt_sample) {
    ++counters.late;
    rtt.add(rtt_sample);
  }
};

// Bytes per second over a sliding time span, from a monotonic byte counter.
class RateMeter {
 public:
  explicit RateMeter(Duration span = std::chrono::seconds(60)) : span_(span) {}
  void sample(TimePoint now, uint64_t total_bytes);
  std::optional<double> per_second() const;

 private:
  Duration span_;
  std::deque<std::pair<TimePoint, uint64_t>> samples_;
};

// Aggregates over a link's targets.
struct LinkFigures {
  std::optional<Duration> latency;  // mean srtt over targets with samples
  std::optional<Duration> jitter;   // mean jitter over targets with samples
  std::optional<double> loss_pct;   // lost / samples over the windows of live targets
                                    // (any reply in the window); all targets if none is live
  size_t loss_samples = 0;
};
LinkFigures aggregate(const std::vector<TargetStats>& targets);

}  // namespace uplink::probe
