#include "cellular/sim_failover.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace uplink::cellular {

namespace {
constexpr auto kHour = std::chrono::hours(1);

int64_t ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
WallTime from_ms(int64_t v) { return WallTime(std::chrono::milliseconds(v)); }
}  // namespace

nlohmann::json to_json(const SimState& s) {
  nlohmann::json j{{"slot", s.slot}, {"switches_ms", nlohmann::json::array()}};
  if (s.last_switch) j["last_switch_ms"] = ms(*s.last_switch);
  for (WallTime t : s.switches) j["switches_ms"].push_back(ms(t));
  return j;
}

std::optional<SimState> sim_state_from_json(const nlohmann::json& j) {
  try {
    SimState s;
    s.slot = j.at("slot").get<int>();
    if (s.slot < 0 || s.slot > 8) return std::nullopt;
    if (j.contains("last_switch_ms")) s.last_switch = from_ms(j.at("last_switch_ms").get<int64_t>());
    for (const auto& v : j.at("switches_ms")) s.switches.push_back(from_ms(v.get<int64_t>()));
    return s;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

SimFailover::SimFailover(SimFailoverConfig config, SimState state)
    : config_(std::move(config)), state_(std::move(state)), current_(state_.slot ? state_.slot : preferred()) {}

void SimFailover::observe_slot(int slot) {
  if (slot > 0) current_ = slot;
}

int SimFailover::next_slot() const {
  const auto& s = config_.slots;
  auto it = std::find(s.begin(), s.end(), current_);
  if (it == s.end() || std::next(it) == s.end()) return s.front();
  return *std::next(it);
}

bool SimFailover::budget(WallTime now) {
  auto& v = state_.switches;
  v.erase(std::remove_if(v.begin(), v.end(), [&](WallTime t) { return now - t >= kHour || t > now; }), v.end());
  if (static_cast<int>(v.size()) < config_.max_switches_per_hour) return true;
  if (!limited_) limited_ = true;
  return false;
}

bool SimFailover::take_limited() {
  if (!limited_ || limited_reported_) return false;
  limited_reported_ = true;
  return true;
}

std::optional<SimFailover::Decision> SimFailover::evaluate(WallTime now, bool usable) {
  if (config_.slots.size() < 2) return std::nullopt;
  if (usable) {
    unusable_since_.reset();
    if (!usable_since_) usable_since_ = now;
    awaiting_data_ = false;
  } else {
    usable_since_.reset();
    if (!unusable_since_) unusable_since_ = now;
  }
  const Duration since_switch = state_.last_switch ? Duration(now - *state_.last_switch) : Duration::max();
  std::optional<Decision> want;
  if (!usable) {
    if (awaiting_data_ && since_switch >= config_.connect_timeout) {
      want = Decision{next_slot(), "no_data_after_switch"};
    } else if (!awaiting_data_ && now - *unusable_since_ >= config_.switch_after && since_switch >= config_.min_dwell) {
      want = Decision{next_slot(), "unusable"};
    }
  } else if (current_ != preferred() && now - *usable_since_ >= config_.return_after &&
             since_switch >= std::max(config_.min_dwell, config_.return_after)) {
    want = Decision{preferred(), "return_to_preferred"};
  }
  if (!want || want->slot == current_) return std::nullopt;
  if (!budget(now)) return std::nullopt;
  limited_ = limited_reported_ = false;
  return want;
}

void SimFailover::switched(int slot, WallTime now) {
  current_ = slot;
  state_.slot = slot;
  state_.last_switch = now;
  state_.switches.push_back(now);
  awaiting_data_ = true;
  unusable_since_.reset();
  usable_since_.reset();
}

std::optional<WallTime> SimFailover::next_deadline(WallTime now) const {
  if (config_.slots.size() < 2) return std::nullopt;
  std::optional<WallTime> t;
  auto earliest = [&](WallTime c) {
    if (!t || c < *t) t = c;
  };
  const WallTime dwell_end = state_.last_switch ? *state_.last_switch + config_.min_dwell : now;
  if (unusable_since_) {
    if (awaiting_data_ && state_.last_switch) earliest(*state_.last_switch + config_.connect_timeout);
    else earliest(std::max(*unusable_since_ + config_.switch_after, dwell_end));
  }
  if (usable_since_ && current_ != preferred()) {
    WallTime back = *usable_since_ + config_.return_after;
    if (state_.last_switch) back = std::max(back, *state_.last_switch + std::max(config_.min_dwell, config_.return_after));
    earliest(back);
  }
  // Out of budget: the oldest switch of the hour leaving it.
  if (t && !state_.switches.empty() && static_cast<int>(state_.switches.size()) >= config_.max_switches_per_hour)
    t = std::max(*t, state_.switches.front() + kHour);
  if (t && *t < now) t = now;
  return t;
}

}  // namespace uplink::cellular
