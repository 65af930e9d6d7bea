#pragma once
// Per-target and per-link probe statistics: smoothed RTT and RTT variation
// (RFC 6298), interarrival jitter (RFC 3550 style, from consecutive RTTs),
// loss over a sliding window of the last N probes, counters, and the
// RTO-like automatic probe timeout.
#include <cstdint>
#include <deque>
#include <algorithm>
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
  // `late_floor`: lower bound learnt from late replies (TargetStats::late_floor).
  Duration compute(const RttEstimator& rtt, Duration late_floor = Duration::zero()) const;
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
  // `path_evidence` false: a probe sent into an outage; counted, but kept out
  // of the loss window, which measures the path's quality once it answers.
  void on_lost(bool send_error, bool path_evidence = true);
  // A late reply never passes a round and never enters `rtt` (latency and
  // jitter are what the path does in time; a reply queued behind ARP for 1-2 s
  // is not the path's latency). It proves the timeout too short, so it raises
  // `late_floor` to 1.5 x its RTT, capped at `cap` (the caller passes 4 x the
  // in-time timeout while the target still answers in time, so one burst of
  // queued replies cannot stretch the timeout to seconds; the policy's max once
  // the target answers only late, so a really slower path is learnt).
  void on_late(Duration rtt_sample, Duration cap) {
    ++counters.late;
    late_floor = std::max(late_floor, std::min(rtt_sample + rtt_sample / 2, cap));
  }
  // Decays by 1/8 with every in-time reply (on_reply): evidence that the path
  // answers faster again shortens the timeout back toward srtt + 4 rttvar.
  Duration late_floor{};
  // Any in-time reply in the loss window.
  bool answers_in_time() const { return loss.lost() < loss.samples(); }
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
  size_t loss_lost = 0;
};
LinkFigures aggregate(const std::vector<TargetStats>& targets);

}  // namespace uplink::probe
