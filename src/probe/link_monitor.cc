#include "probe/link_monitor.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/log.h"

namespace uplink::probe {

namespace {

double ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double sec(Duration d) { return std::chrono::duration<double>(d).count(); }

bool same_targets(const ProbeConfig& a, const ProbeConfig& b) {
  if (a.method != b.method || a.targets.size() != b.targets.size()) return false;
  for (size_t i = 0; i < a.targets.size(); ++i)
    if (a.targets[i].address != b.targets[i].address || a.targets[i].port != b.targets[i].port) return false;
  return a.http_path == b.http_path && a.dns_name == b.dns_name;
}

std::string target_label(const ProbeTarget& t) {
  return t.original.empty() ? t.address.to_string() : t.original;
}

}  // namespace

LinkMonitor::LinkMonitor(const LinkConfig& link, TimeSource& time, ProberFactory& probers, ChangeHandler on_change,
                         MonitorOptions options)
    : link_(link),
      time_(time),
      factory_(probers),
      on_change_(std::move(on_change)),
      opt_(options),
      rng_(options.seed ? *options.seed : std::random_device{}()),
      since_(time.wall_now()) {
  if (!link_.enabled) {
    state_ = LinkState::disabled;
    reason_ = "admin";
  }
  round_timer_ = time_.make_timer();
  prober_ = factory_.make(link_);
  rebuild_targets();
}

LinkMonitor::~LinkMonitor() {
  *alive_ = false;
  round_timer_->cancel();
  for (auto& t : retry_timers_) t->cancel();
}

void LinkMonitor::rebuild_targets() {
  ++stats_gen_;
  for (auto& t : retry_timers_) t->cancel();
  size_t n = link_.probe.targets.size();
  stats_.assign(n, TargetStats(opt_.loss_window));
  round_.assign(n, TargetRound{});
  last_error_.assign(n, std::string());
  retry_timers_.clear();
  for (size_t i = 0; i < n; ++i) retry_timers_.push_back(time_.make_timer());
  light_next_ = 0;
  prober_->set_late_handler([this, alive = alive_](const ProbeTarget& t, Duration rtt) {
    if (!*alive) return;
    for (size_t i = 0; i < link_.probe.targets.size(); ++i)
      if (link_.probe.targets[i].address == t.address && link_.probe.targets[i].port == t.port)
        stats_[i].on_late(rtt, late_cap(i));
  });
}

bool LinkMonitor::probing() const {
  return running_ && state_ != LinkState::disabled && carrier_ && address_ && interface_ && !external_ &&
         !link_.probe.targets.empty();
}

void LinkMonitor::start() {
  if (running_) return;
  running_ = true;
  if (probing()) round_timer_->arm(Duration::zero(), [this] { start_round(); });
}

void LinkMonitor::stop() {
  running_ = false;
  abort_round();
  round_timer_->cancel();
}

void LinkMonitor::abort_round() {
  // Results of aborted rounds still feed the counters, never a verdict or a window.
  aborted_upto_ = round_id_;
  ++round_id_;
  in_round_ = false;
  for (auto& t : retry_timers_) t->cancel();
}

// ---- rounds ---------------------------------------------------------------

Duration LinkMonitor::timeout_for(size_t target) const {
  if (link_.probe.timeout) return *link_.probe.timeout;
  return opt_.timeout.compute(stats_.at(target).rtt, stats_.at(target).late_floor);
}

Duration LinkMonitor::late_cap(size_t target) const {
  const TargetStats& s = stats_.at(target);
  if (!s.answers_in_time()) return opt_.timeout.max;  // only late replies: this is the path now
  return 4 * opt_.timeout.compute(s.rtt);               // an outlier burst: bounded
}

Duration LinkMonitor::retry_after(size_t target) const {
  Duration to = timeout_for(target);
  const auto& rtt = stats_[target].rtt;
  if (!rtt.has_sample()) return to / 2;
  // Not before a reply could plausibly be back, not after the timeout.
  return std::clamp(rtt.srtt() + 2 * rtt.rttvar(), to / 2, to);
}

void LinkMonitor::start_round() {
  if (!probing()) return;
  ++round_id_;
  in_round_ = true;
  round_start_ = time_.now();
  rate_.sample(round_start_, prober_->bytes_sent());
  size_t n = stats_.size();
  round_.assign(n, TargetRound{});

  // Metered links in steady state ask one live target per round (rotating):
  // a loss there escalates to a full round at fast_interval, so detection
  // stays bounded while steady cost is one probe per interval.
  bool light = link_.metered && state_ == LinkState::up && !pending() && n > 1;
  round_kind_ = light ? RoundKind::light : RoundKind::full;
  if (light) {
    size_t pick = light_next_ % n;
    for (size_t k = 0; k < n; ++k) {
      size_t i = (light_next_ + k) % n;
      if (stats_[i].last_ok) {
        pick = i;
        break;
      }
    }
    light_next_ = pick + 1;
    round_[pick].in = true;
  } else {
    for (auto& r : round_) r.in = true;
  }
  escalate_ = false;
  for (size_t i = 0; i < n; ++i)
    if (round_[i].in) send_attempt(i);
}

void LinkMonitor::send_attempt(size_t i) {
  TargetRound& tr = round_[i];
  // A retry means the previous attempt did not answer in time; its timeout may
  // only land after the round has ended, so note the loss hint now.
  if (tr.attempts > 0) tr.any_lost = true;
  ++tr.attempts;
  stats_[i].on_sent();
  // Sent while not up and before the first passing round: this probe may go
  // into the outage itself, so losing it says nothing about the path's quality.
  bool into_outage = (state_ == LinkState::unknown || state_ == LinkState::down) && good_run_ == 0;
  prober_->probe(link_.probe.targets[i], timeout_for(i),
                 [this, alive = alive_, round = round_id_, gen = stats_gen_, i, into_outage](ProbeResult r) {
                   if (*alive) on_result(round, gen, i, r, into_outage);
                 });
  if (tr.attempts < 1 + opt_.retries) {
    retry_timers_[i]->arm(retry_after(i), [this, i] {
      if (in_round_ && !round_[i].done) send_attempt(i);
    });
  }
}

void LinkMonitor::on_result(uint64_t round, uint64_t gen, size_t i, const ProbeResult& r, bool into_outage) {
  if (gen != stats_gen_) return;  // targets were replaced meanwhile
  bool reply = r.outcome == ProbeOutcome::reply;
  if (round <= aborted_upto_) {
    // Aborted round (signal, stop, admin): count it, but let it neither move
    // the state nor refill a loss window that the outage just cleared.
    if (reply) ++stats_[i].counters.received;
    else ++stats_[i].counters.lost;
    return;
  }
  if (reply) stats_[i].on_reply(r.rtt);
  else stats_[i].on_lost(r.outcome == ProbeOutcome::error, !into_outage);

  // Errors are logged once per change, not once per probe.
  std::string err = r.outcome == ProbeOutcome::error ? r.error : std::string();
  if (err != last_error_[i]) {
    if (!err.empty())
      get_logger("probe")->warn("[{}] probe to {} failed: {}; counted as lost, retrying every round", link_.name,
                                target_label(link_.probe.targets[i]), err);
    else if (reply)
      get_logger("probe")->info("[{}] probes to {} work again", link_.name, target_label(link_.probe.targets[i]));
    if (!err.empty() || reply) last_error_[i] = err;
  }

  if (round != round_id_ || !in_round_) return;  // surplus attempt of a finished round
  TargetRound& tr = round_[i];
  ++tr.finished;
  if (tr.done) return;  // a surplus attempt of a target already decided
  if (reply) {
    tr.answered = true;
    tr.done = true;
    retry_timers_[i]->cancel();
  } else {
    tr.any_lost = true;
    if (tr.finished == tr.attempts) {
      if (tr.attempts < 1 + opt_.retries) {
        retry_timers_[i]->cancel();  // nothing left in flight: retry now
        send_attempt(i);
        return;
      }
      tr.done = true;
    }
  }
  bool all_done = true;
  for (const auto& t : round_) all_done = all_done && (!t.in || t.done);
  if (all_done) finish_round();
}

void LinkMonitor::finish_round() {
  in_round_ = false;
  int participants = 0, answered = 0;
  bool suspect = false;
  for (size_t i = 0; i < round_.size(); ++i) {
    const auto& tr = round_[i];
    if (!tr.in) continue;
    ++participants;
    if (tr.answered) ++answered;
    // A live target (a reply in its window) losing a probe hints at loss onset.
    if (tr.any_lost && stats_[i].loss.lost() < stats_[i].loss.samples()) suspect = true;
  }
  if (round_kind_ == RoundKind::light && answered == 0) {
    escalate_ = true;  // not evidence of failure yet: ask everyone, fast
  } else {
    int need = std::min(link_.probe.reliability, participants);
    decide(answered >= need, answered > 0, suspect);
  }
  schedule_next();
}

void LinkMonitor::decide(bool passed, bool any_reply, bool suspect) {
  int up_after = effective_up_after();
  switch (state_) {
    case LinkState::unknown:
    case LinkState::down:
      if (passed) {
        bad_run_ = 0;
        if (++good_run_ >= up_after) go_up();
      } else {
        good_run_ = 0;
        // Failed rounds while not up are outage evidence, not path quality:
        // kept in the windows they would make a recovered link "degraded".
        for (auto& s : stats_) s.loss.clear();
        if (bad_run_ == 0) bad_run_had_reply_ = false;
        bad_run_had_reply_ = bad_run_had_reply_ || any_reply;
        if (state_ == LinkState::unknown && ++bad_run_ >= link_.probe.down_after)
          set_state(LinkState::down, bad_run_had_reply_ ? "probe_loss" : "probe_timeout");
      }
      break;
    case LinkState::up:
    case LinkState::degraded:
      if (passed) {
        bad_run_ = 0;
        watch_loss(suspect);
        evaluate_quality();
      } else {
        if (bad_run_ == 0) bad_run_had_reply_ = false;
        bad_run_had_reply_ = bad_run_had_reply_ || any_reply;
        if (++bad_run_ >= link_.probe.down_after)
          set_state(LinkState::down, bad_run_had_reply_ ? "probe_loss" : "probe_timeout");
      }
      break;
    case LinkState::disabled:
      break;
  }
}

// Loss onset: after a live target loses a probe while up, rounds stay fast
// until `watch_clean_rounds` clean rounds in a row, so the losses a loss
// verdict needs arrive at fast_interval instead of one per interval (README
// "Loss math"). Metered links spend at most a bounded number of such rounds
// per minute.
void LinkMonitor::watch_loss(bool lost_probe) {
  if (state_ != LinkState::up) {
    watch_ = false;
    return;
  }
  if (lost_probe) {
    watch_ = true;
    clean_run_ = 0;
  } else if (watch_ && ++clean_run_ >= opt_.watch_clean_rounds) {
    watch_ = false;
  }
}

bool LinkMonitor::watch_budget_left() const {
  if (!link_.metered) return true;
  TimePoint now = time_.now();
  auto recent = std::count_if(watch_rounds_.begin(), watch_rounds_.end(),
                              [&](TimePoint t) { return now - t < std::chrono::minutes(1); });
  return recent < opt_.metered_watch_rounds_per_minute;
}

void LinkMonitor::go_up() {
  std::string why;
  if (quality_bad(&why)) set_state(LinkState::degraded, why);
  else set_state(LinkState::up, "probes_ok");
}

// ---- quality (up <-> degraded, with hysteresis) ----------------------------

bool LinkMonitor::quality_bad(std::string* reason) const {
  if (!link_.quality) return false;
  const QualityConfig& q = *link_.quality;
  LinkFigures f = aggregate(stats_);
  if (q.max_latency && f.latency && *f.latency > *q.max_latency) return *reason = "latency", true;
  // A single lost probe never degrades a link, whatever the window holds.
  if (q.max_loss && f.loss_pct && f.loss_samples >= opt_.min_loss_samples && f.loss_lost >= opt_.min_loss_count &&
      *f.loss_pct > *q.max_loss)
    return *reason = "loss", true;
  if (q.max_jitter && f.jitter && *f.jitter > *q.max_jitter) return *reason = "jitter", true;
  return false;
}

bool LinkMonitor::quality_recovered() const {
  if (!link_.quality) return true;
  const QualityConfig& q = *link_.quality;
  double k = q.recover_ratio;
  LinkFigures f = aggregate(stats_);
  if (q.max_latency && f.latency && ms(*f.latency) >= ms(*q.max_latency) * k) return false;
  if (q.max_loss && f.loss_pct && *f.loss_pct >= *q.max_loss * k) return false;
  if (q.max_jitter && f.jitter && ms(*f.jitter) >= ms(*q.max_jitter) * k) return false;
  return true;
}

void LinkMonitor::evaluate_quality() {
  std::string why;
  if (state_ == LinkState::up) {
    if (quality_bad(&why)) set_state(LinkState::degraded, why);
  } else if (state_ == LinkState::degraded) {
    if (!quality_recovered()) {
      recover_since_.reset();
    } else if (!recover_since_) {
      recover_since_ = time_.now();
    } else if (time_.now() - *recover_since_ >= opt_.quality_hold) {
      set_state(LinkState::up, "quality_ok");
    }
  }
}

// ---- scheduling ------------------------------------------------------------

bool LinkMonitor::pending() const {
  switch (state_) {
    case LinkState::unknown: return true;  // decide fast
    case LinkState::up:
    case LinkState::degraded: return bad_run_ > 0 || escalate_ || (watch_ && watch_budget_left());
    case LinkState::down: return good_run_ > 0;
    case LinkState::disabled: return false;
  }
  return false;
}

Duration LinkMonitor::steady_interval() {
  std::uniform_real_distribution<double> u(-opt_.interval_jitter, opt_.interval_jitter);
  auto d = std::chrono::duration<double>(link_.probe.interval) * (1.0 + u(rng_));
  return std::chrono::duration_cast<Duration>(d);
}

void LinkMonitor::schedule_next() {
  if (!probing()) return;
  bool fast = pending();
  if (fast && watch_ && bad_run_ == 0 && !escalate_ && link_.metered) {
    watch_rounds_.push_back(time_.now());  // spent from the metered watch budget
    while (watch_rounds_.size() > static_cast<size_t>(opt_.metered_watch_rounds_per_minute)) watch_rounds_.pop_front();
  }
  Duration gap = fast ? link_.probe.fast_interval : steady_interval();
  TimePoint next = std::max(round_start_ + gap, time_.now());
  round_timer_->arm(next - time_.now(), [this] { start_round(); });
}

// ---- transitions -----------------------------------------------------------

double LinkMonitor::decayed_penalty() const {
  if (penalty_ <= 0) return 0;
  double halves = sec(time_.now() - penalty_at_) / sec(opt_.damping_half_life);
  return penalty_ * std::pow(0.5, halves);
}

double LinkMonitor::damping_multiplier() const {
  double p = decayed_penalty();
  if (p <= 1.0) return 1.0;
  return std::clamp(std::pow(2.0, p - 1.0), 1.0, opt_.max_damping);
}

int LinkMonitor::effective_up_after() const {
  return static_cast<int>(std::ceil(link_.probe.up_after * damping_multiplier() - 1e-9));
}

void LinkMonitor::set_state(LinkState to, const std::string& reason) {
  if (to == state_) {
    reason_ = reason;
    return;
  }
  LinkState from = state_;
  state_ = to;
  reason_ = reason;
  since_ = time_.wall_now();
  good_run_ = 0;
  bad_run_ = 0;
  watch_ = false;
  clean_run_ = 0;
  recover_since_.reset();
  if (to == LinkState::down) {
    // Outage evidence is not path quality: recovery starts from a clean window.
    for (auto& s : stats_) s.loss.clear();
    if (from == LinkState::up || from == LinkState::degraded) {
      penalty_ = decayed_penalty() + 1.0;
      penalty_at_ = time_.now();
    }
  }
  get_logger("probe")->info("state-change: [{}] {} -> {} reason: {}", link_.name, to_string(from), to_string(to),
                            reason);
  if (on_change_) on_change_(LinkEvent{since_, link_.name, from, to, reason});
}

void LinkMonitor::hard_down(const std::string& reason) {
  abort_round();
  round_timer_->cancel();
  if (state_ != LinkState::disabled) set_state(LinkState::down, reason);
}

void LinkMonitor::resume_after_signal() {
  if (!probing() || in_round_) return;
  prober_->reset();
  good_run_ = 0;
  bad_run_ = 0;
  round_timer_->arm(Duration::zero(), [this] { start_round(); });
}

std::string LinkMonitor::held_down_reason() const {
  if (!interface_) return "interface_gone";
  if (!carrier_) return "carrier_lost";
  if (!address_) return "address_lost";
  if (external_) return external_reason_;
  return "";
}

void LinkMonitor::on_carrier(bool up) {
  if (up == carrier_) return;
  carrier_ = up;
  if (!up) hard_down("carrier_lost");
  else resume_after_signal();
}

void LinkMonitor::on_address(bool present) {
  if (present == address_) return;
  address_ = present;
  if (!present) hard_down("address_lost");
  else resume_after_signal();
}

void LinkMonitor::on_external_signal(bool down, const std::string& reason) {
  if (down == external_ && (!down || reason == external_reason_)) return;
  external_ = down;
  external_reason_ = down ? reason : "";
  if (down) hard_down(reason);
  else resume_after_signal();
}

void LinkMonitor::on_interface_gone() {
  if (!interface_) return;
  interface_ = false;
  hard_down("interface_gone");
}

void LinkMonitor::on_interface_back() {
  if (interface_) return;
  interface_ = true;
  resume_after_signal();
}

void LinkMonitor::set_enabled(bool enabled) {
  link_.enabled = enabled;
  if (!enabled) {
    if (state_ == LinkState::disabled) return;
    abort_round();
    round_timer_->cancel();
    set_state(LinkState::disabled, "admin");
    return;
  }
  if (state_ != LinkState::disabled) return;
  std::string held = held_down_reason();
  if (!held.empty()) set_state(LinkState::down, held);
  else set_state(LinkState::unknown, "admin");
  if (probing()) round_timer_->arm(Duration::zero(), [this] { start_round(); });
}

void LinkMonitor::reconfigure(const LinkConfig& link) {
  bool keep = same_targets(link_.probe, link.probe) && link_.interface == link.interface &&
              link_.fwmark == link.fwmark && link_.gateway == link.gateway && link_.probe.source == link.probe.source;
  bool enabled = link.enabled;
  bool was_enabled = link_.enabled;
  link_ = link;
  link_.enabled = was_enabled;
  if (!keep) {
    abort_round();
    round_timer_->cancel();
    prober_ = factory_.make(link_);
    rebuild_targets();
    good_run_ = 0;
    bad_run_ = 0;
    if (probing()) round_timer_->arm(Duration::zero(), [this] { start_round(); });
  } else if (probing() && !in_round_) {
    schedule_next();  // new intervals apply to the round being waited for
  }
  if (enabled != was_enabled) set_enabled(enabled);
}

// ---- reporting -------------------------------------------------------------

LinkQuality LinkMonitor::quality() const {
  LinkFigures f = aggregate(stats_);
  LinkQuality q;
  if (f.latency) q.latency_ms = ms(*f.latency);
  if (f.jitter) q.jitter_ms = ms(*f.jitter);
  q.loss_pct = f.loss_pct;
  return q;
}

nlohmann::json LinkMonitor::stats_json() const {
  using nlohmann::json;
  LinkQuality q = quality();
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json targets = json::array();
  for (size_t i = 0; i < stats_.size(); ++i) {
    const auto& s = stats_[i];
    const auto& c = s.counters;
    json t = {{"target", target_label(link_.probe.targets[i])},
              {"sent", c.sent},
              {"received", c.received},
              {"lost", c.lost},
              {"errors", c.errors},
              {"late", c.late},
              {"loss_pct", s.loss.samples() ? json(100.0 * s.loss.lost() / s.loss.samples()) : json(nullptr)},
              {"timeout_ms", ms(timeout_for(i))}};
    t["srtt_ms"] = s.rtt.has_sample() ? json(ms(s.rtt.srtt())) : json(nullptr);
    t["rttvar_ms"] = s.rtt.has_sample() ? json(ms(s.rtt.rttvar())) : json(nullptr);
    t["jitter_ms"] = s.rtt.has_sample() ? json(ms(s.rtt.jitter())) : json(nullptr);
    t["last_rtt_ms"] = s.rtt.last() ? json(ms(*s.rtt.last())) : json(nullptr);
    t["last_error"] = last_error_[i].empty() ? json(nullptr) : json(last_error_[i]);
    targets.push_back(std::move(t));
  }
  return {{"name", link_.name},
          {"state", to_string(state_)},
          {"reason", reason_},
          {"since", format_wall_time(since_)},
          {"latency_ms", opt(q.latency_ms)},
          {"jitter_ms", opt(q.jitter_ms)},
          {"loss_pct", opt(q.loss_pct)},
          {"probe_bytes_per_s", opt(rate_.per_second())},
          {"up_after_effective", effective_up_after()},
          {"fast", pending()},
          {"targets", std::move(targets)}};
}

std::string probe_metrics(const std::vector<const LinkMonitor*>& links) {
  std::ostringstream out;
  auto family = [&](const char* name, const char* type, const char* help, auto&& body) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    for (const LinkMonitor* l : links) body(*l);
  };
  auto lbl = [](const LinkMonitor& l) { return "link=\"" + l.name() + "\""; };
  auto link_gauge = [&](const char* name, const char* help, auto&& get) {
    family(name, "gauge", help, [&](const LinkMonitor& l) {
      if (auto v = get(l)) out << name << '{' << lbl(l) << "} " << *v << '\n';
    });
  };
  link_gauge("uplink_link_latency_seconds", "smoothed RTT over answering targets", [](const LinkMonitor& l) {
    auto q = l.quality();
    return q.latency_ms ? std::optional(*q.latency_ms / 1000) : std::nullopt;
  });
  link_gauge("uplink_link_jitter_seconds", "RFC 3550 jitter over answering targets", [](const LinkMonitor& l) {
    auto q = l.quality();
    return q.jitter_ms ? std::optional(*q.jitter_ms / 1000) : std::nullopt;
  });
  link_gauge("uplink_link_loss_ratio", "probe loss over the sliding window", [](const LinkMonitor& l) {
    auto q = l.quality();
    return q.loss_pct ? std::optional(*q.loss_pct / 100) : std::nullopt;
  });
  link_gauge("uplink_probe_bytes_per_second", "probe bytes sent per second (last minute)",
             [](const LinkMonitor& l) { return l.probe_bytes_per_second(); });
  auto target_counter = [&](const char* name, const char* help, auto&& get) {
    family(name, "counter", help, [&](const LinkMonitor& l) {
      const auto& st = l.target_stats();
      for (size_t i = 0; i < st.size(); ++i)
        out << name << '{' << lbl(l) << ",target=\"" << l.target_label_at(i) << "\"} " << get(st[i].counters)
            << '\n';
    });
  };
  target_counter("uplink_probe_sent_total", "probes sent", [](const TargetCounters& c) { return c.sent; });
  target_counter("uplink_probe_received_total", "probe replies in time",
                 [](const TargetCounters& c) { return c.received; });
  target_counter("uplink_probe_lost_total", "probes timed out or failed to send",
                 [](const TargetCounters& c) { return c.lost; });
  target_counter("uplink_probe_late_total", "replies after their probe timed out",
                 [](const TargetCounters& c) { return c.late; });
  family("uplink_probe_rtt_seconds", "gauge", "smoothed RTT per target", [&](const LinkMonitor& l) {
    const auto& st = l.target_stats();
    for (size_t i = 0; i < st.size(); ++i)
      if (st[i].rtt.has_sample())
        out << "uplink_probe_rtt_seconds{" << lbl(l) << ",target=\"" << l.target_label_at(i) << "\"} "
            << sec(st[i].rtt.srtt()) << '\n';
  });
  return out.str();
}

std::string LinkMonitor::target_label_at(size_t i) const { return target_label(link_.probe.targets.at(i)); }

}  // namespace uplink::probe
