#pragma once
// PolicyEngine: link states in, per-policy decisions out (pure logic, no I/O).
//
//   LinkMonitor --(link, LinkState, LinkQuality)--> PolicyEngine --Decisions--> Routing
//                                                         |
//                                                         +--PolicyChange--> hooks, events, conntrack flush
//
// Which members are candidates: the `up` members of the policy; only when no
// member is up, the `degraded` ones (a policy is never left with nothing while
// a degraded member could carry traffic). Among candidates:
//   failover: the lowest tier, weighted within it;
//   balance:  all of them, weighted;
//   quality:  the one with the best score (latency_ms + loss_penalty_ms per %
//             loss); it changes only when another is better by a clear margin
//             for a hold time, or at once when the current one stops being a
//             candidate, or when it was picked while other members were
//             still unknown (start-up: the first member up is provisional).
// No candidate: the policy's last resort (decision with no active member).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "uplink/decision.h"
#include "uplink/link_state.h"

namespace uplink {

struct QualityTuning {
  double margin_ratio = 0.20;       // the challenger must be better by 20 % of the current score...
  double margin_ms = 10.0;          // ...and by at least 10 ms
  Duration hold = std::chrono::seconds(5);  // ...for this long
  double loss_penalty_ms = 10.0;    // score cost of 1 % loss
};

// One policy's choice changed. `left` = links that were active and are not any more.
struct PolicyChange {
  std::string policy;
  std::vector<std::string> from;  // old active links (empty = last resort)
  std::vector<std::string> to;    // new active links
  std::vector<std::string> left;
  std::vector<std::string> joined;
  // Why, carried by the decision itself: the input that made the engine recompute.
  std::string cause_link;  // the link whose state/quality changed ("" otherwise)
  std::string cause;       // its new state ("down", "up", ...), "quality", "config" or "removed"
  // "wan1 down", "wan1 quality", "quality" (the hold timer), "config", "removed";
  // "; last_resort" appended when the policy is left with no active link.
  std::string reason;
};

class PolicyEngine {
 public:
  using ChangeHandler = std::function<void(const std::vector<PolicyChange>&)>;

  explicit PolicyEngine(TimeSource& time, QualityTuning tuning = {});
  ~PolicyEngine();

  // Replaces the policies; link states already known are kept.
  void set_config(const Config& config);
  void update_link(const std::string& link, LinkState state, const LinkQuality& quality);
  // Called after every recomputation that changed at least one decision.
  void on_change(ChangeHandler handler) { handler_ = std::move(handler); }

  const Decisions& decisions() const { return decisions_; }
  LinkState link_state(const std::string& link) const;
  bool link_active_anywhere(const std::string& link) const;

 private:
  struct LinkInfo {
    LinkState state = LinkState::unknown;
    LinkQuality quality;
  };
  struct QualityChoice {
    std::optional<std::string> current;
    std::optional<std::string> challenger;  // better by the margin since challenger_since
    TimePoint challenger_since{};
    bool provisional = false;  // chosen while some member was still unknown
  };

  void recompute(const std::string& cause_link, const std::string& cause);
  PolicyDecision decide(const PolicyConfig& policy);
  PolicyDecision decide_quality(const PolicyConfig& policy, const std::vector<const PolicyMember*>& candidates);
  double score(const std::string& link) const;
  void arm_hold_timer();

  TimeSource& time_;
  QualityTuning tuning_;
  std::vector<PolicyConfig> policies_;  // in file order
  std::map<std::string, LinkInfo> links_;
  std::map<std::string, QualityChoice> quality_;
  Decisions decisions_;
  ChangeHandler handler_;
  std::unique_ptr<Timer> hold_timer_;
};

}  // namespace uplink
