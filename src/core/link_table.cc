#include "core/link_table.h"

#include "common/log.h"
#include "core/topics.h"

namespace uplink {

namespace {
std::shared_ptr<spdlog::logger> logger() {
  static auto l = get_logger("links");
  return l;
}
}  // namespace

void LinkTable::add(const std::string& link, bool enabled, const std::string& reason) {
  if (links_.count(link)) return;
  LinkEntry e;
  e.enabled = enabled;
  e.state = enabled ? LinkState::unknown : LinkState::disabled;
  e.reason = enabled ? reason : "admin";
  e.verdict_reason = reason;
  e.since = time_.wall_now();
  links_.emplace(link, std::move(e));
}

void LinkTable::remove(const std::string& link) { links_.erase(link); }

const LinkEntry* LinkTable::find(const std::string& link) const {
  auto it = links_.find(link);
  return it == links_.end() ? nullptr : &it->second;
}

void LinkTable::set_enabled(const std::string& link, bool enabled) {
  auto it = links_.find(link);
  if (it == links_.end() || it->second.enabled == enabled) return;
  LinkEntry& e = it->second;
  e.enabled = enabled;
  e.verdict = LinkState::unknown;
  e.verdict_reason = "admin";
  e.quality = {};
  recompute(link, e);
}

void LinkTable::report_verdict(const std::string& link, LinkState state, const std::string& reason) {
  auto it = links_.find(link);
  if (it == links_.end() || state == LinkState::disabled) return;
  it->second.verdict = state;
  it->second.verdict_reason = reason;
  recompute(link, it->second);
}

void LinkTable::report_quality(const std::string& link, const LinkQuality& quality) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  it->second.quality = quality;
  bus_.publish(LinkQualityEvent{link});
}

void LinkTable::set_hard_signal(const std::string& link, const std::string& source, const std::string& down_reason) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  LinkEntry& e = it->second;
  auto sig = e.hard_down.find(source);
  bool raised = !down_reason.empty();
  if (raised) {
    if (sig != e.hard_down.end() && sig->second == down_reason) return;
    e.hard_down[source] = down_reason;
  } else {
    if (sig == e.hard_down.end()) return;
    e.hard_down.erase(sig);
  }
  // The monitor hears of it before the state changes, so its verdict is
  // already "held down" when the policy engine reacts to the transition.
  bus_.publish(HardSignalEvent{link, source, raised, down_reason});
  recompute(link, e);
}

void LinkTable::set_degrade_signal(const std::string& link, const std::string& source, const std::string& reason) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  LinkEntry& e = it->second;
  if (reason.empty()) {
    if (!e.degrade.erase(source)) return;
  } else {
    auto [sig, fresh] = e.degrade.try_emplace(source, reason);
    if (!fresh && sig->second == reason) return;
    sig->second = reason;
  }
  recompute(link, e);
}

void LinkTable::recompute(const std::string& link, LinkEntry& e) {
  LinkState to;
  std::string reason;
  if (!e.enabled) {
    to = LinkState::disabled;
    reason = "admin";
  } else if (!e.hard_down.empty()) {
    to = LinkState::down;
    reason = e.hard_down.begin()->second;
  } else if (e.verdict == LinkState::up && !e.degrade.empty()) {
    to = LinkState::degraded;
    reason = e.degrade.begin()->second;
  } else {
    to = e.verdict;
    reason = e.verdict_reason;
  }
  if (to == e.state) {  // one event per transition, not per report
    e.reason = reason;   // but the reason shown is the current one (no_modem after modem_pending)
    return;
  }
  LinkEvent ev{time_.wall_now(), link, e.state, to, reason};
  logger()->info("state-change: [{}] {} -> {} reason: {}", link, to_string(e.state), to_string(to), reason);
  e.state = to;
  e.since = ev.ts;
  e.reason = reason;
  ++e.transitions;
  bus_.publish(ev);
}

}  // namespace uplink
