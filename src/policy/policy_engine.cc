#include "policy/policy_engine.h"
#include "common/strings.h"

#include <algorithm>
#include <limits>

#include "common/log.h"

namespace uplink {

namespace {

std::vector<std::string> names(const PolicyDecision& d) {
  std::vector<std::string> out;
  for (const auto& m : d.active) out.push_back(m.link);
  return out;
}

std::vector<std::string> minus(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out;
  for (const auto& x : a)
    if (std::find(b.begin(), b.end(), x) == b.end()) out.push_back(x);
  return out;
}

}  // namespace

PolicyEngine::PolicyEngine(TimeSource& time, QualityTuning tuning)
    : time_(time), tuning_(tuning), hold_timer_(time.make_timer()) {}

PolicyEngine::~PolicyEngine() = default;

void PolicyEngine::set_config(const Config& config) {
  policies_.clear();
  std::vector<std::string> order = config.policy_order;
  for (const auto& [name, p] : config.policies)
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  for (const auto& name : order) {
    auto it = config.policies.find(name);
    if (it != config.policies.end()) policies_.push_back(it->second);
  }
  // Forget quality choices of policies that are gone or whose mode changed.
  std::map<std::string, QualityChoice> kept;
  for (const auto& p : policies_)
    if (p.mode == PolicyMode::quality && quality_.count(p.name)) kept[p.name] = quality_[p.name];
  quality_ = std::move(kept);
  recompute("", "config");
}

void PolicyEngine::update_link(const std::string& link, LinkState state, const LinkQuality& quality) {
  auto [it, fresh] = links_.try_emplace(link);
  bool state_changed = fresh || it->second.state != state;
  it->second.state = state;
  it->second.quality = quality;
  recompute(link, state_changed ? std::string(to_string(state)) : "quality");
}

LinkState PolicyEngine::link_state(const std::string& link) const {
  auto it = links_.find(link);
  return it == links_.end() ? LinkState::unknown : it->second.state;
}

bool PolicyEngine::link_active_anywhere(const std::string& link) const {
  for (const auto& [name, d] : decisions_)
    for (const auto& m : d.active)
      if (m.link == link) return true;
  return false;
}

double PolicyEngine::score(const std::string& link) const {
  auto it = links_.find(link);
  if (it == links_.end() || !it->second.quality.latency_ms) return std::numeric_limits<double>::infinity();
  const auto& q = it->second.quality;
  return *q.latency_ms + q.loss_pct.value_or(0.0) * tuning_.loss_penalty_ms;
}

PolicyDecision PolicyEngine::decide(const PolicyConfig& policy) {
  std::vector<const PolicyMember*> up, degraded;
  for (const auto& m : policy.members) {
    auto s = link_state(m.link);
    if (s == LinkState::up) up.push_back(&m);
    if (s == LinkState::degraded) degraded.push_back(&m);
  }
  const auto& candidates = up.empty() ? degraded : up;
  PolicyDecision d;
  if (candidates.empty()) {
    quality_.erase(policy.name);
    return d;
  }
  switch (policy.mode) {
    case PolicyMode::failover: {
      int tier = std::numeric_limits<int>::max();
      for (const auto* m : candidates) tier = std::min(tier, m->tier);
      for (const auto* m : candidates)
        if (m->tier == tier) d.active.push_back({m->link, std::max(m->weight, 1)});
      break;
    }
    case PolicyMode::balance:
      for (const auto* m : candidates) d.active.push_back({m->link, std::max(m->weight, 1)});
      break;
    case PolicyMode::quality:
      return decide_quality(policy, candidates);
  }
  return d;
}

PolicyDecision PolicyEngine::decide_quality(const PolicyConfig& policy,
                                            const std::vector<const PolicyMember*>& candidates) {
  auto& q = quality_[policy.name];
  const PolicyMember* best = candidates.front();
  for (const auto* m : candidates)
    if (score(m->link) < score(best->link)) best = m;

  const PolicyMember* current = nullptr;
  for (const auto* m : candidates)
    if (q.current && m->link == *q.current) current = m;

  // Members still `unknown` (start-up, just added or enabled) have not been
  // measured: a choice made before they decide is provisional.
  bool undecided = std::any_of(policy.members.begin(), policy.members.end(),
                               [&](const PolicyMember& m) { return link_state(m.link) == LinkState::unknown; });
  if (!current) {
    // First choice, or the current member stopped being a candidate: move at once.
    q.current = best->link;
    q.challenger.reset();
    q.provisional = undecided;
  } else if (best != current) {
    double cur = score(current->link), chal = score(best->link);
    bool clear = cur - chal >= std::max(cur * tuning_.margin_ratio, tuning_.margin_ms);
    if (!clear) {
      q.challenger.reset();
    } else if (q.provisional) {
      // The first member up was picked before the others were measured: a
      // clearly better one replaces it without the hold (seconds after start,
      // before many flows depend on the first pick).
      q.current = best->link;
      q.challenger.reset();
    } else if (q.challenger != best->link) {
      q.challenger = best->link;
      q.challenger_since = time_.now();
    } else if (time_.now() - q.challenger_since >= tuning_.hold) {
      q.current = best->link;
      q.challenger.reset();
    }
  } else {
    q.challenger.reset();
  }
  if (!undecided) q.provisional = false;  // every member measured: from now on margin + hold
  PolicyDecision d;
  for (const auto* m : candidates)
    if (m->link == *q.current) d.active.push_back({m->link, std::max(m->weight, 1)});
  return d;
}

void PolicyEngine::arm_hold_timer() {
  std::optional<TimePoint> next;
  for (const auto& [name, q] : quality_)
    if (q.challenger) {
      auto due = q.challenger_since + tuning_.hold;
      if (!next || due < *next) next = due;
    }
  if (!next) {
    hold_timer_->cancel();
    return;
  }
  hold_timer_->arm(*next - time_.now(), [this] { recompute("", "quality"); });
}

void PolicyEngine::recompute(const std::string& cause_link, const std::string& cause) {
  auto why = [&](PolicyChange& c, bool removed) {
    c.cause_link = removed ? "" : cause_link;
    c.cause = removed ? "removed" : cause;
    c.reason = c.cause_link.empty() ? c.cause : c.cause_link + " " + c.cause;
    if (!removed && c.to.empty()) c.reason += "; last_resort";
  };
  Decisions next;
  for (const auto& p : policies_) next[p.name] = decide(p);
  std::vector<PolicyChange> changes;
  for (const auto& [name, d] : next) {
    auto old = decisions_.find(name);
    if (old != decisions_.end() && old->second == d) continue;
    if (old == decisions_.end() && d.last_resort()) continue;  // a new policy starts at its last resort: no news
    PolicyChange c;
    c.policy = name;
    if (old != decisions_.end()) c.from = names(old->second);
    c.to = names(d);
    c.left = minus(c.from, c.to);
    c.joined = minus(c.to, c.from);
    why(c, false);
    get_logger("policy")->info("policy-change: [{}] {} -> {} reason: {}", name, join(c.from, "(last resort)"),
                               join(c.to, "(last resort)"), c.reason);
    changes.push_back(std::move(c));
  }
  for (const auto& [name, d] : decisions_) {
    if (next.count(name)) continue;
    PolicyChange c;
    c.policy = name;
    c.from = names(d);
    c.left = c.from;
    why(c, true);
    changes.push_back(std::move(c));
  }
  decisions_ = std::move(next);
  arm_hold_timer();
  if (!changes.empty() && handler_) handler_(changes);
}

}  // namespace uplink
