#include "probe/link_stats.h"

#include <algorithm>

namespace uplink::probe {

void RttEstimator::add(Duration rtt) {
  if (rtt < Duration::zero()) rtt = Duration::zero();
  if (!has_) {
    srtt_ = rtt;
    rttvar_ = rtt / 2;
    jitter_ = Duration::zero();
    has_ = true;
  } else {
    // alpha = 1/8, beta = 1/4 (RFC 6298 §2.3); rttvar first, from the old srtt.
    Duration err = rtt > srtt_ ? rtt - srtt_ : srtt_ - rtt;
    rttvar_ = rttvar_ - rttvar_ / 4 + err / 4;
    srtt_ = srtt_ - srtt_ / 8 + rtt / 8;
    Duration d = rtt > last_ ? rtt - last_ : last_ - rtt;
    jitter_ = jitter_ + (d - jitter_) / 16;
  }
  last_ = rtt;
}

Duration TimeoutPolicy::compute(const RttEstimator& rtt, Duration late_floor) const {
  Duration base = rtt.has_sample() ? rtt.srtt() + 4 * rtt.rttvar() : initial;
  return std::clamp(std::max(base, late_floor), min, max);
}

void LossWindow::add(bool lost) {
  ring_.push_back(lost);
  if (lost) ++lost_;
  while (ring_.size() > capacity_) {
    if (ring_.front()) --lost_;
    ring_.pop_front();
  }
}

void TargetStats::on_reply(Duration rtt_sample) {
  ++counters.received;
  rtt.add(rtt_sample);
  late_floor -= late_floor / 8;
  loss.add(false);
  last_ok = true;
}

void TargetStats::on_lost(bool send_error, bool path_evidence) {
  ++counters.lost;
  if (send_error) ++counters.errors;
  if (path_evidence) loss.add(true);
  last_ok = false;
}

void RateMeter::sample(TimePoint now, uint64_t total_bytes) {
  samples_.emplace_back(now, total_bytes);
  // Keep one sample at or before the span's start so the rate covers it whole.
  while (samples_.size() > 2 && samples_[1].first <= now - span_) samples_.pop_front();
}

std::optional<double> RateMeter::per_second() const {
  if (samples_.size() < 2) return std::nullopt;
  auto dt = std::chrono::duration<double>(samples_.back().first - samples_.front().first).count();
  if (dt <= 0) return std::nullopt;
  return static_cast<double>(samples_.back().second - samples_.front().second) / dt;
}

LinkFigures aggregate(const std::vector<TargetStats>& targets) {
  LinkFigures f;
  Duration lat{}, jit{};
  int n = 0;
  bool any_live = false;
  for (const auto& t : targets) any_live = any_live || t.loss.lost() < t.loss.samples();
  size_t lost = 0;
  for (const auto& t : targets) {
    if (t.rtt.has_sample()) {
      lat += t.rtt.srtt();
      jit += t.rtt.jitter();
      ++n;
    }
    // A target silent for its whole window is dead, not lossy: it is the
    // round verdict's business, not the path's loss figure.
    if (any_live && t.loss.lost() == t.loss.samples()) continue;
    lost += t.loss.lost();
    f.loss_samples += t.loss.samples();
  }
  if (n > 0) {
    f.latency = lat / n;
    f.jitter = jit / n;
  }
  f.loss_lost = lost;
  if (f.loss_samples > 0) f.loss_pct = 100.0 * static_cast<double>(lost) / static_cast<double>(f.loss_samples);
  return f;
}

}  // namespace uplink::probe
