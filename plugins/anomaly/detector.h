#pragma once
// Streaming, causal anomaly detector for one univariate stream.
//
// update(value) returns the anomaly score of that sample in [0, 1]; it
// depends only on this sample and the earlier ones. All state lives inside
// the object (fixed-size arrays): nothing is allocated after construction,
// and two detectors fed the same values give bit-identical scores.
//
// How it scores (details in README.md):
//  1. warm-up: the first `warmup` samples are only learned (score 0); their
//     median and MAD fix a squashing transform y = asinh((x - median) /
//     (squash * MAD)) and a grid of `bins` bins over their range (value
//     bins at least `quantum` x the data's resolution wide);
//  2. novelty: three channels -- y, a smoothed y (EWMA), and (time-of-day
//     slot, coarse bin of y) -- are binned on `grids` copies of the grid
//     shifted by step/grids, at `levels` resolutions (step x1, x2, x4...);
//     a channel's novelty is the fraction of its bins (contexts) never seen
//     before, read at the resolution that matches the range seen so far
//     (range / bins); a new value bin inside the range seen so far counts
//     `interior_weight` (a gap filled, not a new extreme); each channel's
//     novelty is then divided by (1 + rate_gain * that channel's recent
//     rate of novelty), so a stream that is always "new" (trend, heavy
//     tails) has to be newer still;
//  3. the score is the largest weighted channel novelty; an alarm fires
//     when it reaches the threshold, then max(`cooldown`, `cooldown_frac` x
//     rows seen) rows stay quiet (one incident, one alarm).
// Seen contexts live in a two-generation Bloom filter (32 KiB) that forgets
// contexts unseen for one to two `forget` epochs.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "model.h"

namespace uplink::anomaly {

// "One alarm, then quiet for `rows` rows": an alarm fires when the raw score
// reaches the threshold outside a cool-down; inside one, the reported score
// is capped just below the threshold, so thresholding the reported score
// gives exactly the alarms (and the score of a row that alarms is >= the
// threshold).
class Cooldown {
 public:
  Cooldown(double threshold, int rows, double frac = 0) : threshold_(threshold), rows_(rows), frac_(frac) {}
  // After an alarm: max(`rows`, `frac` x rows stepped so far) rows without
  // alarms.
  double step(double raw, bool& alarm) {
    alarm = false;
    ++seen_;
    ++since_;
    if (since_ <= quiet_) return std::min(raw, below_threshold());
    if (raw >= threshold_) {
      alarm = true;
      since_ = 0;
      quiet_ = std::max(rows_, static_cast<int64_t>(frac_ * static_cast<double>(seen_)));
    }
    return raw;
  }
  void reset() {
    since_ = kNever;
    seen_ = 0;
    quiet_ = rows_;
  }
  double below_threshold() const;

 private:
  static constexpr int64_t kNever = int64_t{1} << 40;
  double threshold_;
  int64_t rows_;
  double frac_;
  int64_t since_ = kNever;
  int64_t seen_ = 0;   // rows stepped since reset
  int64_t quiet_ = 0;  // quiet rows after the last alarm
};

class Detector {
 public:
  static constexpr int kMaxWarmup = 1024;     // warm-up samples kept to seed the novelty table
  static constexpr int kBloomWords = 1 << 11;  // 64-bit words per generation (16 KiB); two generations
  static constexpr int kChannels = 3;         // value, smoothed value, time of day
  static constexpr int64_t kNoTime = INT64_MIN;

  struct Output {
    double score = 0;  // reported score: capped below the threshold while cooling down
    double raw = 0;    // score before the cool-down
    bool alarm = false;
  };

  explicit Detector(const Params& p = Params{});
  void reset();
  // ts_us: microseconds since the epoch (enables the time-of-day context),
  // or kNoTime.
  Output update(int64_t ts_us, double value);
  Output update(double value) { return update(kNoTime, value); }
  // The score before the cool-down (0 during warm-up).
  double raw_score(int64_t ts_us, double value);

  const Params& params() const { return p_; }
  uint64_t samples() const { return n_; }

 private:
  struct Channel {
    double origin = 0, step = 1, lo = 0, hi = 0;
    double epoch_lo = 0, epoch_hi = 0, prev_lo = 0, prev_hi = 0;
  };
  double transform(double x) const;
  void fix_grid();
  // Looks up (and learns) the contexts of one sample; returns the novel
  // fraction per channel in nov[].
  void novelty(double y, double ys, int64_t ts_us, bool learn_only, double nov[kChannels]);
  bool seen(uint64_t h) const;
  void learn(uint64_t h);
  void forget();

  Params p_;
  uint64_t n_ = 0;
  Cooldown cooldown_;

  bool grid_fixed_ = false;
  double center_ = 0, spread_ = 1;
  double smooth_ = 0;     // EWMA of y
  double rate_[kChannels] = {};  // EWMA of each channel's novelty
  int64_t since_forget_ = 0;
  Channel ch_[kChannels];
  static constexpr int32_t kNeverDay = INT32_MIN;
  int32_t slot_first_day_[kMaxTodSlots] = {};  // day a time-of-day slot was first seen
  double warm_[kMaxWarmup] = {};
  int64_t warm_ts_[kMaxWarmup] = {};
  // Contexts seen, as two generations of a blocked Bloom filter (2 bits in
  // one 64-bit word per context; both generations of a word side by side,
  // so a lookup touches one cache line): the current epoch and the one
  // before; forget() drops the older.
  uint64_t bloom_[kBloomWords][2] = {};
  int cur_ = 0;
};

}  // namespace uplink::anomaly
