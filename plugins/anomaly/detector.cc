#include "detector.h"

#include <cmath>

namespace uplink::anomaly {
namespace {

inline uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

inline uint64_t bin_hash(uint64_t h, int64_t bin) { return mix(h ^ (static_cast<uint64_t>(bin) + 0x1234567ULL)); }

constexpr uint64_t kSeed = 0x9e3779b97f4a7c15ULL;
constexpr int64_t kDayUs = int64_t{86400} * 1000000;

}  // namespace

// 1e-6 below: the CLI prints scores rounded down to 6 decimals, so a capped
// score never prints as the threshold.
double Cooldown::below_threshold() const { return std::max(0.0, threshold_ - 1e-6); }

Detector::Detector(const Params& p) : p_(p), cooldown_(p.threshold, p.cooldown, p.cooldown_frac) {
  p_.warmup = std::clamp(p_.warmup, 16, kMaxWarmup);
  p_.grids = std::clamp(p_.grids, 1, kMaxGrids);
  p_.levels = std::clamp(p_.levels, 1, kMaxLevels);
  reset();
}

void Detector::reset() {
  n_ = 0;
  cooldown_.reset();
  grid_fixed_ = false;
  center_ = 0;
  spread_ = 1;
  smooth_ = 0;
  for (double& r : rate_) r = 0;
  since_forget_ = 0;
  for (auto& c : ch_) c = Channel{};
  for (auto& d : slot_first_day_) d = kNeverDay;
  for (auto& w : bloom_) w[0] = w[1] = 0;
  cur_ = 0;
}

double Detector::transform(double x) const {
  if (p_.squash <= 0) return x;
  return std::asinh((x - center_) / spread_);
}

void Detector::fix_grid() {
  const int m = std::min<int>(static_cast<int>(n_), p_.warmup);
  if (p_.squash > 0) {
    // Robust centre and spread of the warm-up values (median, MAD).
    double tmp[kMaxWarmup] = {};
    std::copy(warm_, warm_ + m, tmp);
    std::nth_element(tmp, tmp + m / 2, tmp + m);
    center_ = tmp[m / 2];
    double lo = warm_[0], hi = warm_[0];
    for (int i = 0; i < m; ++i) {
      tmp[i] = std::fabs(warm_[i] - center_);
      lo = std::min(lo, warm_[i]);
      hi = std::max(hi, warm_[i]);
    }
    std::nth_element(tmp, tmp + m / 2, tmp + m);
    double mad = tmp[m / 2];
    if (!(mad > 0)) mad = (hi - lo) / p_.bins;
    if (!(mad > 0)) mad = 1e-6 * std::fabs(center_) + 1e-12;
    spread_ = mad * p_.squash;
  }
  // Range of each channel's input over the warm-up.
  double s = 0;
  for (int i = 0; i < m; ++i) {
    const double y = transform(warm_[i]);
    s = i == 0 ? y : s + (y - s) / std::min<double>(i + 1, p_.smooth);
    const double u[2] = {y, s};
    for (int c = 0; c < 2; ++c) {
      if (i == 0 || u[c] < ch_[c].lo) ch_[c].lo = u[c];
      if (i == 0 || u[c] > ch_[c].hi) ch_[c].hi = u[c];
    }
  }
  for (int c = 0; c < 2; ++c) {
    Channel& ch = ch_[c];
    ch.origin = ch.lo;
    ch.step = (ch.hi - ch.lo) / p_.bins;
    const double floor_step = 1e-6 * std::max(std::fabs(ch.lo), std::fabs(ch.hi)) + 1e-12;
    if (!(ch.step > floor_step)) ch.step = floor_step;
  }
  // The value grid is never finer than `quantum` x the data's resolution
  // (the smallest gap between distinct warm-up values, measured at the
  // median): with bins two quanta wide, a value one quantum from a seen one
  // is novel on at most half of the shifted grids. Counts (tweets per 5
  // minutes), rounded percentages and the like otherwise get a bin per
  // representable value, and every value not seen yet is "novel". A
  // warm-up with fewer than three distinct values (a square wave, 0 or a
  // spike) tells the gap between its levels, not a resolution: no floor.
  if (p_.quantum > 0) {
    double tmp[kMaxWarmup];
    std::copy(warm_, warm_ + m, tmp);
    std::sort(tmp, tmp + m);
    double q = HUGE_VAL;
    int distinct = 1;
    for (int i = 1; i < m; ++i)
      if (tmp[i] > tmp[i - 1]) {
        q = std::min(q, tmp[i] - tmp[i - 1]);
        ++distinct;
      }
    if (distinct >= 3) ch_[0].step = std::max(ch_[0].step, p_.quantum * (transform(center_ + q) - transform(center_)));
  }
  for (auto& ch : ch_) {
    ch.epoch_lo = ch.prev_lo = ch.lo;
    ch.epoch_hi = ch.prev_hi = ch.hi;
  }
  ch_[2].origin = ch_[0].origin;
  ch_[2].step = ch_[0].step * p_.tod_coarse;
  grid_fixed_ = true;
  // Learn the warm-up contexts.
  smooth_ = 0;
  double nov[kChannels];
  for (int i = 0; i < m; ++i) {
    const double y = transform(warm_[i]);
    smooth_ = i == 0 ? y : smooth_ + (y - smooth_) / std::min<double>(i + 1, p_.smooth);
    novelty(y, smooth_, warm_ts_[i], true, nov);
  }
}

void Detector::forget() {
  // Every `forget` rows: a new epoch starts; contexts not seen in this epoch
  // or the previous one become novel again, and the range that picks the
  // grid level shrinks to the last two epochs.
  since_forget_ = 0;
  cur_ ^= 1;
  for (auto& w : bloom_) w[cur_] = 0;
  for (auto& ch : ch_) {
    ch.lo = std::min(ch.epoch_lo, ch.prev_lo);
    ch.hi = std::max(ch.epoch_hi, ch.prev_hi);
    ch.prev_lo = ch.epoch_lo;
    ch.prev_hi = ch.epoch_hi;
    ch.epoch_lo = HUGE_VAL;
    ch.epoch_hi = -HUGE_VAL;
  }
}

namespace {
inline uint64_t bloom_mask(uint64_t h) { return (uint64_t{1} << (h & 63)) | (uint64_t{1} << ((h >> 6) & 63)); }
inline uint32_t bloom_word(uint64_t h, int words) { return static_cast<uint32_t>(h >> 32) & (words - 1); }
}  // namespace

bool Detector::seen(uint64_t h) const {
  const uint64_t m = bloom_mask(h);
  const uint64_t* w = bloom_[bloom_word(h, kBloomWords)];
  return (w[0] & m) == m || (w[1] & m) == m;
}

void Detector::learn(uint64_t h) { bloom_[bloom_word(h, kBloomWords)][cur_] |= bloom_mask(h); }

void Detector::novelty(double y, double ys, int64_t ts_us, bool learn_only, double nov[kChannels]) {
  // On `grids` grids shifted by step/grids from each other, each channel's
  // bin (its context) is looked up, then learned. The novelty of a channel
  // is the fraction of its grids where the bin was never seen before.
  const int grids = p_.grids;
  const bool use_smooth = p_.smooth_weight > 0;
  const bool use_tod = p_.tod_slots > 0 && p_.tod_weight > 0 && ts_us != kNoTime;
  int64_t slot = 0;
  bool tod_known = false;  // this time-of-day slot was first seen >= tod_days days ago
  if (use_tod) {
    int64_t t = ts_us % kDayUs;
    if (t < 0) t += kDayUs;
    const int64_t day = (ts_us - t) / kDayUs;
    slot = t / (kDayUs / p_.tod_slots);
    int32_t& first = slot_first_day_[slot];
    if (first == kNeverDay) first = static_cast<int32_t>(day);
    tod_known = day >= first + p_.tod_days;
  }
  // Pass 1: every context's hash, and a prefetch of its Bloom line, so the
  // (with many streams, cold) cache lines load in parallel; pass 2 below
  // looks them up and learns them in the same order as before.
  const bool on[kChannels] = {true, use_smooth, use_tod};
  int count[kChannels] = {};
  uint64_t hs[kChannels][kMaxLevels * kMaxGrids];
  for (int c = 0; c < kChannels; ++c) {
    if (!on[c]) continue;
    const Channel& ch = ch_[c];
    const double u = c == 1 ? ys : y;
    // Multi-resolution: the grid step is doubled `levels - 1` times; all
    // levels learn, and the novelty is read at the level whose step matches
    // the range seen so far (range / bins), so a stream whose range grows is
    // judged on a coarser grid, as if the grid had been laid over the whole
    // range from the start.
    int lvl = 0;
    if (p_.levels > 1) {
      const double need = (ch.hi - ch.lo) / (p_.bins * ch.step);
      while (lvl + 1 < p_.levels && (1 << lvl) < need) ++lvl;
    }
    // Learned: the level read now and the next `ahead` coarser ones (those
    // the range can grow into); finer levels are not read again until a
    // forget epoch shrinks the range.
    const int last = std::min(p_.levels - 1, lvl + p_.ahead);
    int k = 0;
    for (int lv = lvl; lv <= last; ++lv) {
      const double step = ch.step * static_cast<double>(1 << lv);
      for (int g = 0; g < grids; ++g) {
        // Grid g: shifted by g/grids of a step.
        double b = std::floor((u - ch.origin) / step + static_cast<double>(g) / grids);
        b = std::clamp(b, -1e6, 1e6);
        uint64_t h = kSeed + static_cast<uint64_t>((c * kMaxLevels + lv) * kMaxGrids + g) * 0x632be59bd9b4e019ULL;
        if (c == 2) h = mix(h + static_cast<uint64_t>(slot));
        h = bin_hash(h, static_cast<int64_t>(b));
        __builtin_prefetch(bloom_[bloom_word(h, kBloomWords)], 1);
        hs[c][k++] = h;
      }
    }
    count[c] = k;
  }
  for (int c = 0; c < kChannels; ++c) {
    nov[c] = 0;
    if (!on[c]) continue;
    Channel& ch = ch_[c];
    const double u = c == 1 ? ys : y;
    double novel = 0;
    // The first `grids` hashes are the level read now.
    for (int k = 0; k < count[c]; ++k) {
      if (k < grids && !seen(hs[c][k])) novel += 1.0;
      learn(hs[c][k]);
    }
    nov[c] = learn_only ? 0 : novel / static_cast<double>(grids);
    // A new value bin inside the range already seen fills a gap (sparse,
    // heavy tails do so all the time); one beyond it is a new extreme.
    if (c == 0 && u >= ch.lo && u <= ch.hi) nov[c] *= p_.interior_weight;
    if (c == 2 && !tod_known) nov[c] = 0;  // the first day of a slot only learns
    // The range seen so far (after judging this sample), and in this epoch.
    ch.lo = std::min(ch.lo, u);
    ch.hi = std::max(ch.hi, u);
    ch.epoch_lo = std::min(ch.epoch_lo, u);
    ch.epoch_hi = std::max(ch.epoch_hi, u);
  }
}

double Detector::raw_score(int64_t ts_us, double x) {
  ++n_;
  if (!grid_fixed_) {
    warm_[n_ - 1] = x;
    warm_ts_[n_ - 1] = ts_us;
    if (n_ == static_cast<uint64_t>(p_.warmup)) fix_grid();
    return 0;
  }
  const double y = transform(x);
  smooth_ += (y - smooth_) / p_.smooth;
  double c[kChannels];
  novelty(y, smooth_, ts_us, false, c);
  if (p_.forget > 0 && ++since_forget_ >= p_.forget) forget();
  // A channel that keeps producing novel contexts (trend, heavy tails,
  // noise) is less surprising when it does so again: divide its novelty
  // by (1 + rate_gain * its recent rate).
  for (int k = 0; k < kChannels; ++k) {
    const double raw = c[k];
    c[k] = raw / (1.0 + p_.rate_gain * rate_[k]);
    rate_[k] += (raw - rate_[k]) / p_.rate_horizon;
  }
  return std::clamp(std::max({c[0], p_.smooth_weight * c[1], p_.tod_weight * c[2]}), 0.0, 1.0);
}

Detector::Output Detector::update(int64_t ts_us, double x) {
  Output out;
  out.raw = raw_score(ts_us, x);
  out.score = cooldown_.step(out.raw, out.alarm);
  return out;
}

}  // namespace uplink::anomaly
