#pragma once
// One link's state machine: probes in rounds, statistics, hysteresis,
// hard signals, flap damping, administrative state. See README.md for the
// diagram and the timing / false-alarm math.
//
//   timer --> start_round --> Prober::probe (per target, with in-round retries)
//                                  | results
//                                  v
//                        finish_round: verdict (>= reliability targets answered)
//                                  |
//                  decide(): counters -> transition -> on_change(LinkEvent)
//                                  |
//                        schedule_next(): interval (+-jitter) or fast_interval
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "probe/link_stats.h"
#include "probe/prober.h"
#include "uplink/link_state.h"

namespace uplink::probe {

// Tuning that is not in the configuration file; the defaults are the product's.
struct MonitorOptions {
  TimeoutPolicy timeout;              // bounds of timeout = "auto"
  // Extra attempts per target inside one round, sent when the previous one
  // has not answered after ~timeout/2. A target fails the round only when
  // all 1 + retries attempts are lost: this is what keeps 30 % random loss
  // from ever completing down_after failed rounds (README "Loss math").
  int retries = 2;
  size_t loss_window = 20;            // probes per target in the loss window
  size_t min_loss_samples = 10;       // loss is not judged on fewer samples
  size_t min_loss_count = 2;          // nor on fewer lost probes: one loss never degrades
  // After a live target loses a probe while up, stay at fast_interval until
  // this many clean rounds in a row (README "Loss math: time to degraded").
  int watch_clean_rounds = 3;
  long metered_watch_rounds_per_minute = 12;  // bound of those fast rounds on metered links
  Duration quality_hold = std::chrono::seconds(10);  // below recovery levels this long -> up
  double interval_jitter = 0.1;       // steady interval * (1 +- this), random
  double max_damping = 8.0;           // bound of the up_after multiplier
  Duration damping_half_life = std::chrono::seconds(60);
  std::optional<uint32_t> seed;       // jitter RNG; random when absent
};

class LinkMonitor {
 public:
  using ChangeHandler = std::function<void(const LinkEvent&)>;

  LinkMonitor(const LinkConfig& link, TimeSource& time, ProberFactory& probers, ChangeHandler on_change,
              MonitorOptions options = {});
  ~LinkMonitor();
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  void start();  // begin probing (unless disabled or a hard signal holds it down)
  void stop();   // stop probing; state is kept

  void set_enabled(bool enabled);  // false -> disabled (admin), no probes; true -> unknown, probing
  void on_carrier(bool up);        // lost -> down at once (carrier_lost); back -> probe toward up
  void on_address(bool present);   // lost -> down at once (address_lost)
  void on_interface_gone();        // -> down at once (interface_gone)
  void on_interface_back();        // -> probe toward up
  // A hard signal another module raised on the link (bearer dropped, tunnel
  // device gone; see core/link_table.h): down at once, no probes while it
  // holds; cleared -> probe toward up (the return is earned, as after carrier).
  void on_external_signal(bool down, const std::string& reason);
  // Probe/quality/timing changes apply at once; statistics survive when the
  // targets (and method/interface/mark) are unchanged. The state is kept.
  void reconfigure(const LinkConfig& link);

  const std::string& name() const { return link_.name; }
  LinkState state() const { return state_; }
  const std::string& reason() const { return reason_; }
  WallTime since() const { return since_; }
  LinkQuality quality() const;
  // Probe timeout currently used for target i (auto or configured).
  Duration timeout_for(size_t target) const;
  // Up rounds currently needed (up_after times the flap-damping multiplier).
  int effective_up_after() const;
  const std::vector<TargetStats>& target_stats() const { return stats_; }
  std::optional<double> probe_bytes_per_second() const { return rate_.per_second(); }
  bool probing() const;
  std::string target_label_at(size_t i) const;

  // Per-target and per-link figures for `uplinkctl link show --json`.
  nlohmann::json stats_json() const;

 private:
  struct TargetRound {
    bool in = false;        // probed this round (a light round asks one target)
    int attempts = 0;       // sent so far this round
    int finished = 0;       // outcomes received
    bool answered = false;  // any attempt replied
    bool done = false;      // answered, or every attempt finished
    bool any_lost = false;
  };
  enum class RoundKind { full, light };

  void set_state(LinkState to, const std::string& reason);
  void start_round();
  void send_attempt(size_t target);
  void on_result(uint64_t round, uint64_t gen, size_t target, const ProbeResult& r, bool into_outage);
  Duration retry_after(size_t target) const;
  Duration late_cap(size_t target) const;
  void go_up();
  double decayed_penalty() const;
  std::string held_down_reason() const;
  void finish_round();
  void decide(bool passed, bool any_reply, bool suspect);
  void evaluate_quality();
  void watch_loss(bool lost_probe);
  bool watch_budget_left() const;
  void schedule_next();
  void abort_round();
  void hard_down(const std::string& reason);
  void resume_after_signal();
  void rebuild_targets();
  bool pending() const;
  bool quality_bad(std::string* reason) const;
  bool quality_recovered() const;
  double damping_multiplier() const;
  Duration steady_interval();

  LinkConfig link_;
  TimeSource& time_;
  ProberFactory& factory_;
  std::unique_ptr<Prober> prober_;
  ChangeHandler on_change_;
  MonitorOptions opt_;
  std::mt19937 rng_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  LinkState state_ = LinkState::unknown;
  std::string reason_ = "start";
  WallTime since_;

  bool running_ = false;
  bool carrier_ = true, address_ = true, interface_ = true;
  bool external_ = false;  // a hard signal from another module holds the link down
  std::string external_reason_;

  std::unique_ptr<Timer> round_timer_;
  std::vector<std::unique_ptr<Timer>> retry_timers_;
  std::vector<TargetStats> stats_;
  std::vector<TargetRound> round_;
  std::vector<std::string> last_error_;  // per target, to log a change once
  uint64_t stats_gen_ = 0;
  uint64_t round_id_ = 0;
  uint64_t aborted_upto_ = 0;  // rounds up to this id were aborted
  bool in_round_ = false;
  RoundKind round_kind_ = RoundKind::full;
  size_t light_next_ = 0;
  TimePoint round_start_{};
  bool escalate_ = false;  // a light round lost its probe: next one full, fast

  int good_run_ = 0;
  int bad_run_ = 0;
  bool bad_run_had_reply_ = false;
  bool watch_ = false;  // up, a live target lost a probe: fast until clean_run_ clean rounds
  int clean_run_ = 0;
  std::deque<TimePoint> watch_rounds_;  // metered: recent fast rounds spent on watching
  std::optional<TimePoint> recover_since_;

  double penalty_ = 0;  // flap damping: +1 per fall to down, halves every half-life
  TimePoint penalty_at_{};

  RateMeter rate_;
};

// Prometheus text for a set of links, grouped by metric family: latency,
// jitter, loss, probe counters. The link state family is the daemon's (views.cc).
std::string probe_metrics(const std::vector<const LinkMonitor*>& links);

}  // namespace uplink::probe
