#include "linkemu/link_model.h"

#include <algorithm>

namespace uplink::linkemu {

namespace {
constexpr uint64_t kFullFrame = 1514;
}

LinkModel::LinkModel(uint64_t seed) : rng_(seed) {}

void LinkModel::set_params(const LinkParams& p) {
  // A change of burst model restarts the loss chain in the good state.
  if (p.burst != params_.burst || p.loss_pct != params_.loss_pct) ge_bad_ = false;
  params_ = p;
}

Duration LinkModel::serialization(size_t bytes) const {
  // bits * 1e9 / (kbit * 1e3) ns
  return Duration(static_cast<int64_t>(bytes * 8ULL * 1000000ULL / params_.rate_kbit));
}

uint64_t LinkModel::queue_limit() const {
  if (params_.queue_bytes) return params_.queue_bytes;
  uint64_t hundred_ms = params_.rate_kbit * 1000 / 8 / 10;
  return std::max<uint64_t>(hundred_ms, 2 * kFullFrame);
}

Duration LinkModel::burst_time() const {
  uint64_t depth = params_.rate_burst_bytes ? params_.rate_burst_bytes : 2 * kFullFrame;
  return serialization(depth);
}

uint64_t LinkModel::rate_backlog_bytes(TimePoint now) const {
  if (!params_.rate_kbit) return 0;
  Duration ahead = tat_ - burst_time() - now;
  if (ahead <= Duration::zero()) return 0;
  return static_cast<uint64_t>(ahead.count()) * params_.rate_kbit / 8ULL / 1000000ULL;
}

bool LinkModel::lose() {
  double p = std::clamp(params_.loss_pct / 100.0, 0.0, 1.0);
  if (p <= 0) return false;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (params_.burst <= 1.0 || p >= 1.0) return u(rng_) < p;
  // Simple Gilbert model: every frame in Bad is lost, none in Good. Mean stay in
  // Bad is `burst` frames (r = 1/burst); p_gb is chosen so that the stationary
  // share of Bad equals the loss rate: p_gb / (p_gb + r) = p.
  double r = 1.0 / params_.burst;
  double p_gb = std::min(1.0, p * r / (1.0 - p));
  if (ge_bad_) {
    if (u(rng_) < r) ge_bad_ = false;
  } else {
    if (u(rng_) < p_gb) ge_bad_ = true;
  }
  return ge_bad_;
}

Verdict LinkModel::on_frame(TimePoint arrival, size_t bytes) {
  ++counters_.frames_in;
  counters_.bytes_in += bytes;
  if (params_.blackhole) {
    ++counters_.blackholed;
    return {Verdict::Kind::blackhole, {}};
  }
  if (lose()) {
    ++counters_.lost;
    return {Verdict::Kind::lost, {}};
  }

  TimePoint ready = arrival;
  if (params_.rate_kbit) {
    // GCRA form of a token bucket: the frame may leave once its theoretical
    // arrival time is within one bucket depth of now.
    TimePoint tat = std::max(tat_, arrival);
    Duration depth = burst_time();
    ready = std::max(arrival, tat - depth);
    if (ready > arrival && rate_backlog_bytes(arrival) + bytes > queue_limit()) {
      ++counters_.queue_drops;
      return {Verdict::Kind::queue_full, {}};
    }
    tat_ = tat + serialization(bytes);
  }

  Duration d = params_.delay;
  if (params_.jitter > Duration::zero()) {
    std::uniform_int_distribution<int64_t> j(-params_.jitter.count(), params_.jitter.count());
    d += Duration(j(rng_));
    if (d < Duration::zero()) d = Duration::zero();
  }
  TimePoint depart = ready + d;
  if (!params_.reorder) depart = std::max(depart, last_depart_);
  last_depart_ = std::max(last_depart_, depart);
  ++counters_.frames_out;
  return {Verdict::Kind::forward, depart};
}

}  // namespace uplink::linkemu
