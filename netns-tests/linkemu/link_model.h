#pragma once
// The emulated line, without any I/O: given when a frame arrived and how big it
// is, decide whether it is lost and when it leaves. Pure and deterministic for a
// seed, so the scheduling, loss and rate logic is unit-tested with made-up
// times (no sleeps). One LinkModel per direction.
//
//   arrival -> [blackhole] -> [loss: Bernoulli or Gilbert-Elliott]
//           -> [token bucket rate, tail drop at the queue limit]
//           -> [delay + jitter, FIFO unless reorder] -> departure
#include <cstddef>
#include <cstdint>
#include <random>

#include "common/clock.h"

namespace uplink::linkemu {

struct LinkParams {
  Duration delay{0};
  Duration jitter{0};          // uniform in [-jitter, +jitter], delay never below 0
  bool reorder = false;        // false: a frame never overtakes an earlier one
  double loss_pct = 0;         // long-run loss rate, 0..100
  double burst = 0;            // mean loss-burst length in frames; > 1 selects Gilbert-Elliott
  uint64_t rate_kbit = 0;      // 0 = unlimited; counts whole frames (Ethernet header included)
  uint64_t queue_bytes = 0;    // rate queue limit; 0 = 100 ms worth of rate (at least 2 frames)
  uint64_t rate_burst_bytes = 0;  // token bucket depth; 0 = 2 full frames
  bool blackhole = false;

  bool operator==(const LinkParams&) const = default;
};

struct LinkCounters {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;     // verdict Forward (the I/O layer counts what it actually sent)
  uint64_t bytes_in = 0;
  uint64_t lost = 0;           // random / burst loss
  uint64_t queue_drops = 0;    // rate queue full
  uint64_t blackholed = 0;
};

struct Verdict {
  enum class Kind { forward, lost, queue_full, blackhole };
  Kind kind = Kind::forward;
  TimePoint depart{};          // valid for forward
};

class LinkModel {
 public:
  explicit LinkModel(uint64_t seed = 1);

  // Takes effect for frames arriving from now on; frames already scheduled keep
  // their departure times, and the rate/FIFO state carries over (no needless drops).
  void set_params(const LinkParams& p);
  const LinkParams& params() const { return params_; }
  const LinkCounters& counters() const { return counters_; }

  Verdict on_frame(TimePoint arrival, size_t bytes);

  // Bytes waiting in the rate stage at `now` (for status and tests).
  uint64_t rate_backlog_bytes(TimePoint now) const;

 private:
  bool lose();
  uint64_t queue_limit() const;
  Duration burst_time() const;
  Duration serialization(size_t bytes) const;

  LinkParams params_;
  LinkCounters counters_;
  std::mt19937_64 rng_;
  bool ge_bad_ = false;
  TimePoint tat_{};            // GCRA theoretical arrival time of the token bucket
  TimePoint last_depart_{};
};

}  // namespace uplink::linkemu
