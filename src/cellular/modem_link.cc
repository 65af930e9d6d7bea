#include "cellular/modem_link.h"

#include <algorithm>

#include "common/units.h"

namespace uplink::cellular {

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::no_service: return "no_service";
    case Phase::no_modem: return "no_modem";
    case Phase::sim_locked: return "sim_locked";
    case Phase::modem_failed: return "modem_failed";
    case Phase::enabling: return "enabling";
    case Phase::registering: return "registering";
    case Phase::connecting: return "connecting";
    case Phase::connected: return "connected";
    case Phase::backoff: return "backoff";
    case Phase::switching_sim: return "switching_sim";
  }
  return "unknown";
}

namespace {
// Hysteresis of the radio thresholds: back above min + margin to recover.
constexpr int kSignalMargin = 5;
constexpr double kRsrpMargin = 3, kSinrMargin = 2;

std::string ip_text(const BearerInfo& b) {
  std::string s;
  if (b.ipv4 && b.ipv4->address) s += b.ipv4->address->to_string();
  if (b.ipv6 && b.ipv6->address) s += (s.empty() ? "" : " ") + b.ipv6->address->to_string();
  return s.empty() ? "no address" : s;
}
}  // namespace

ModemLink::ModemLink(const LinkConfig& link, TimeSource& time, ModemBackend& backend, Effects& effects,
                     std::optional<SimState> sim_state)
    : link_(link),
      cell_(cellular_of(link)),
      time_(time),
      backend_(backend),
      effects_(effects),
      retry_timer_(time.make_timer()),
      sim_timer_(time.make_timer()),
      zombie_timer_(time.make_timer()) {
  if (cell_.sim) sim_ = std::make_unique<SimFailover>(*cell_.sim, sim_state.value_or(SimState{}));
  // Nothing flows before a bearer is up: down until ModemManager says otherwise.
  effects_.link_down(reason_);
}

ModemLink::~ModemLink() = default;

template <class F>
auto ModemLink::guarded(F f) {
  return [alive = std::weak_ptr<int>(alive_), gen = generation_, this, f = std::move(f)](auto&&... args) mutable {
    if (alive.expired() || gen != generation_) return;  // link gone, or another modem appearance
    f(std::forward<decltype(args)>(args)...);
  };
}

void ModemLink::reconfigure(const LinkConfig& link) {
  const bool bearer_changed = link.apn != link_.apn || cellular_of(link).apn_user != cell_.apn_user ||
                              !(cellular_of(link).apn_password == cell_.apn_password) ||
                              cellular_of(link).ip_type != cell_.ip_type || cellular_of(link).roaming != cell_.roaming;
  const bool sim_changed = !(cellular_of(link).sim == cell_.sim);
  link_ = link;
  cell_ = cellular_of(link);
  if (sim_changed) {
    if (cell_.sim) sim_ = std::make_unique<SimFailover>(*cell_.sim, sim_ ? sim_->state() : SimState{});
    else sim_.reset();
  }
  if (bearer_changed && modem_) {
    effects_.event("reconfigured", "bearer settings changed: reconnecting");
    attempts_ = 0;
    restart_bearer("reconfigured");
    return;
  }
  update_radio();
  step();
}

// ---- inputs ----------------------------------------------------------------

void ModemLink::service(bool available) {
  if (available == service_ && service_known_) return;
  service_known_ = true;  // the first report decides, also "unavailable" (modem_pending until then)
  service_ = available;
  if (!available) {
    forget_modem();
    effects_.event("modem_manager_unavailable", "ModemManager left the bus");
  }
  step();
}

void ModemLink::modem(const std::optional<ModemInfo>& info) {
  if (!info) {
    if (modem_) {
      effects_.event("modem_removed", modem_->path + " (" + modem_->equipment_id + ")");
      forget_modem();
    }
    if (phase_ == Phase::switching_sim) return;  // expected: it comes back on the new slot
    step();
    return;
  }
  if (!modem_ || modem_->path != info->path) {
    const bool first = !modem_ && phase_ != Phase::switching_sim;
    forget_modem();
    if (phase_ == Phase::switching_sim) phase_ = Phase::enabling;
    effects_.event(first ? "modem_found" : "modem_moved",
                   info->path + " imei " + info->equipment_id + " slot " + std::to_string(info->primary_slot));
    if (link_.sim_slot != 0 && !sim_ && info->slot_count > 1 && info->primary_slot != link_.sim_slot &&
        fixed_slot_set_for_ != info->equipment_id) {
      fixed_slot_set_for_ = info->equipment_id;  // once per modem: the switch brings it back at a new path
      modem_ = *info;
      request_slot(link_.sim_slot, "sim_slot");
      return;
    }
  }
  const bool reg_lost = modem_ && registered(modem_->registration, cell_.roaming) &&
                        !registered(info->registration, cell_.roaming);
  modem_ = *info;
  if (sim_) sim_->observe_slot(info->primary_slot);
  if (reg_lost) effects_.event("registration_lost", std::string(to_string(info->registration)));
  update_radio();
  step();
}

void ModemLink::bearer(const BearerInfo& b) {
  if (!modem_) return;
  if (bearer_ && bearer_->path != b.path && !b.connected) return;  // another (old) bearer going away
  const bool was = bearer_ && bearer_->connected;
  bearer_ = b;
  if (was && !b.connected) {
    effects_.event("bearer_dropped", "ModemManager reports " + b.path + " disconnected");
    lose_bearer("bearer_disconnected");
    if (attempts_ > 0) schedule_retry("bearer_disconnected", false);
    else step();
    return;
  }
  if (b.connected && phase_ == Phase::connected && ip_applied_) effects_.apply_ip(b);  // new settings
  step();
}

void ModemLink::link_state(LinkState effective, LinkState verdict) {
  effective_ = effective;
  if (carries_traffic(effective)) {
    attempts_ = 0;
    zombies_ = 0;
    zombie_timer_->cancel();
  } else if (phase_ == Phase::connected && verdict == LinkState::down && !zombie_handled_) {
    zombie("probes fail while ModemManager reports the bearer connected");
  }
  evaluate_sim();
}

// ---- verbs -------------------------------------------------------------------

Result<void> ModemLink::reconnect() {
  if (!modem_) return make_error("link " + link_.name + ": no modem (" + reason_ + ")");
  effects_.event("reconnect", "requested");
  attempts_ = 0;
  restart_bearer("reconnect_requested");
  return {};
}

Result<void> ModemLink::reset() {
  if (!modem_) return make_error("link " + link_.name + ": no modem (" + reason_ + ")");
  effects_.event("modem_reset", "requested");
  reset_modem("modem_reset");
  return {};
}

Result<void> ModemLink::switch_slot(int slot) {
  if (!modem_) return make_error("link " + link_.name + ": no modem (" + reason_ + ")");
  if (modem_->slot_count < 2) return make_error("link " + link_.name + ": the modem has no SIM slots to switch");
  if (slot < 1 || slot > modem_->slot_count)
    return make_error("link " + link_.name + ": slot " + std::to_string(slot) + " does not exist (the modem has " +
                      std::to_string(modem_->slot_count) + ")");
  if (slot == modem_->primary_slot) return make_error("link " + link_.name + ": slot " + std::to_string(slot) + " is already active");
  if (sim_) {
    sim_->switched(slot, time_.wall_now());
    effects_.sim_state_changed(sim_->state());
  }
  request_slot(slot, "requested");
  return {};
}

// ---- the machine -----------------------------------------------------------

void ModemLink::down(Phase phase, const std::string& reason) {
  phase_ = phase;
  reason_ = reason;
  if (ip_applied_) {
    effects_.remove_ip();
    ip_applied_ = false;
  }
  effects_.link_down(reason);
}

void ModemLink::forget_modem() {
  ++generation_;  // replies for the old appearance are dropped
  modem_.reset();
  bearer_.reset();
  enable_pending_ = connect_pending_ = false;
  retry_timer_->cancel();
  zombie_timer_->cancel();
  if (ip_applied_) {
    effects_.remove_ip();
    ip_applied_ = false;
  }
}

void ModemLink::lose_bearer(const std::string& reason) {
  zombie_timer_->cancel();
  down(Phase::connecting, reason);
}

void ModemLink::step() {
  if (!service_) return down(Phase::no_service, "modem_manager_unavailable");
  if (!modem_) return down(Phase::no_modem, "no_modem");
  const ModemInfo& m = *modem_;
  if (phase_ == Phase::switching_sim) return;  // until the modem re-appears (a new path resets the phase)
  if (m.state == ModemState::failed) return down(Phase::modem_failed, "modem_failed");
  if (m.sim_locked || m.state == ModemState::locked) {
    if (cell_.sim_pin && pin_sent_for_ != m.path) {
      pin_sent_for_ = m.path;  // once per appearance: a wrong PIN must not lock the SIM for good
      effects_.event("sim_pin_sent", "unlocking the SIM with the configured PIN");
      backend_.send_pin(m.path, cell_.sim_pin->value, guarded([this](Result<void> r) {
        if (!r) effects_.event("sim_pin_failed", r.error().message);
        step();
      }));
    }
    return down(Phase::sim_locked, "sim_locked");
  }
  if (m.state < ModemState::enabled) {
    if (m.state == ModemState::disabled && !enable_pending_ && !retry_timer_->armed()) {
      enable_pending_ = true;
      backend_.enable(m.path, guarded([this](Result<void> r) {
        enable_pending_ = false;
        if (!r) {
          effects_.event("enable_failed", r.error().message);
          ++attempts_;
          schedule_retry("modem_enable_failed", false);
          return;
        }
        step();
      }));
    }
    return down(Phase::enabling, "modem_enabling");
  }
  if (!registered(m.registration, cell_.roaming)) {
    bearer_.reset();  // the network detached it (ModemManager reports the disconnect too)
    std::string why = m.registration == Registration::roaming ? "roaming_not_allowed"
                      : was_connected_                          ? "registration_lost"
                                                                : "not_registered";
    return down(Phase::registering, why);
  }
  if (bearer_ && bearer_->connected) {
    if (phase_ != Phase::connected) on_connected();
    return;
  }
  if (connect_pending_ || retry_timer_->armed()) return;
  start_connect();
}

void ModemLink::on_connected() {
  phase_ = Phase::connected;
  reason_ = "connected";
  was_connected_ = true;
  zombie_handled_ = false;
  effects_.apply_ip(*bearer_);
  ip_applied_ = true;
  effects_.link_down("");
  effects_.event("connected", "apn " + link_.apn + ", slot " + std::to_string(modem_->primary_slot) + ", " +
                                  bearer_->interface + " " + ip_text(*bearer_));
  // Probes must find the link usable within this time, else the bearer is a zombie.
  const ProbeConfig& p = link_.probe;
  const Duration grace = p.interval * (p.up_after + p.down_after + 2) + p.timeout.value_or(std::chrono::seconds(1));
  zombie_timer_->arm(grace, [this] {
    if (phase_ == Phase::connected && !carries_traffic(effective_) && !zombie_handled_)
      zombie("no traffic passes " + format_duration(link_.probe.interval * (link_.probe.up_after + link_.probe.down_after + 2)) +
             " after the bearer connected");
  });
  evaluate_sim();
}

ConnectRequest ModemLink::request() const {
  ConnectRequest r;
  r.apn = link_.apn;
  r.user = cell_.apn_user;
  r.password = cell_.apn_password.value;
  r.ip_type = std::string(to_string(cell_.ip_type));
  r.allow_roaming = cell_.roaming;
  return r;
}

void ModemLink::start_connect() {
  connect_pending_ = true;
  ++attempts_;
  if (phase_ != Phase::connecting || reason_.empty()) down(Phase::connecting, "bearer_connecting");
  else down(Phase::connecting, reason_);
  backend_.connect(modem_->path, request(), guarded([this](Result<BearerInfo> r, ConnectFailure why) {
    connect_done(std::move(r), why);
  }));
}

void ModemLink::connect_done(Result<BearerInfo> r, ConnectFailure why) {
  connect_pending_ = false;
  if (r && r->connected) {
    bearer_ = *r;
    step();
    return;
  }
  const std::string msg = r ? "the bearer did not come up" : r.error().message;
  switch (why) {
    case ConnectFailure::apn_rejected:
      effects_.event("apn_rejected", "APN '" + link_.apn + "': " + msg);
      schedule_retry("apn_rejected", true);
      break;
    case ConnectFailure::auth_failed:
      effects_.event("auth_failed", "APN '" + link_.apn + "' refused the credentials: " + msg);
      schedule_retry("auth_failed", true);
      break;
    case ConnectFailure::not_registered:
      step();  // waits for registration
      break;
    default:
      effects_.event("connect_failed", msg);
      schedule_retry("connect_failed", false);
      break;
  }
}

Duration ModemLink::backoff(bool to_max) const {
  const ReconnectConfig& rc = cell_.reconnect;
  if (to_max) return rc.backoff_max;
  Duration d = rc.backoff_initial;
  for (int i = 1; i < attempts_ && d < rc.backoff_max; ++i) d *= 2;
  return std::min(d, rc.backoff_max);
}

void ModemLink::schedule_retry(const std::string& reason, bool to_max) {
  const Duration d = backoff(to_max);
  down(Phase::backoff, reason);
  retry_timer_->arm(d, [this] { step(); });
}

void ModemLink::restart_bearer(const std::string& reason) {
  retry_timer_->cancel();
  lose_bearer(reason);
  bearer_.reset();
  connect_pending_ = true;  // the connect follows the disconnect
  backend_.disconnect(modem_->path, guarded([this](Result<void> r) {
    connect_pending_ = false;
    if (!r) effects_.event("disconnect_failed", r.error().message);
    bearer_.reset();
    step();
  }));
}

void ModemLink::reset_modem(const std::string& reason) {
  retry_timer_->cancel();
  lose_bearer(reason);
  const std::string path = modem_->path;
  // The modem leaves and comes back at a new path; until then it is "resetting".
  enable_pending_ = connect_pending_ = true;
  backend_.reset(path, guarded([this](Result<void> r) {
    if (r) return;  // the new appearance takes over
    effects_.event("reset_failed", r.error().message);
    enable_pending_ = connect_pending_ = false;
    ++attempts_;
    schedule_retry("modem_reset_failed", false);
  }));
}

void ModemLink::zombie(const std::string& why) {
  zombie_handled_ = true;
  ++zombies_;
  if (zombies_ >= cell_.reconnect.reset_after) {
    effects_.event("zombie_bearer", why + "; resetting the modem (" + std::to_string(zombies_) + " in a row)");
    zombies_ = 0;
    reset_modem("zombie_bearer");
  } else {
    effects_.event("zombie_bearer", why + "; reconnecting the bearer (" + std::to_string(zombies_) + " in a row)");
    restart_bearer("zombie_bearer");
  }
}

void ModemLink::request_slot(int slot, const std::string& why) {
  const int from = modem_->primary_slot;
  retry_timer_->cancel();
  lose_bearer("sim_switching");
  phase_ = Phase::switching_sim;
  effects_.event("sim_switch", "slot " + std::to_string(from) + " -> " + std::to_string(slot) + ": " + why);
  backend_.set_primary_slot(modem_->path, slot, guarded([this](Result<void> r) {
    if (r) return;  // the modem re-appears on the new slot
    effects_.event("sim_switch_failed", r.error().message);
    phase_ = Phase::connecting;
    step();
  }));
}

void ModemLink::update_radio() {
  if (!cell_.radio.any() || !modem_) {
    if (!radio_reason_.empty()) {
      radio_reason_.clear();
      effects_.link_degraded("");
    }
    return;
  }
  const RadioThresholds& t = cell_.radio;
  const ModemInfo& m = *modem_;
  std::string reason = radio_reason_;
  if (radio_reason_.empty()) {
    if (t.min_signal && m.signal < *t.min_signal) reason = "signal_low";
    else if (t.min_rsrp && m.rsrp && *m.rsrp < *t.min_rsrp) reason = "rsrp_low";
    else if (t.min_sinr && m.sinr && *m.sinr < *t.min_sinr) reason = "sinr_low";
  } else {
    const bool ok = (!t.min_signal || m.signal >= *t.min_signal + kSignalMargin) &&
                    (!t.min_rsrp || !m.rsrp || *m.rsrp >= *t.min_rsrp + kRsrpMargin) &&
                    (!t.min_sinr || !m.sinr || *m.sinr >= *t.min_sinr + kSinrMargin);
    if (ok) reason.clear();
  }
  if (reason == radio_reason_) return;
  radio_reason_ = reason;
  effects_.event(reason.empty() ? "radio_recovered" : "radio_degraded",
                 "signal " + std::to_string(m.signal) + "%" + (m.rsrp ? ", rsrp " + std::to_string(int(*m.rsrp)) : "") +
                     (m.sinr ? ", sinr " + std::to_string(int(*m.sinr)) : ""));
  effects_.link_degraded(reason);
}

void ModemLink::evaluate_sim() {
  if (!sim_ || !modem_ || phase_ == Phase::switching_sim) return;
  const WallTime now = time_.wall_now();
  if (auto d = sim_->evaluate(now, carries_traffic(effective_))) {
    sim_->switched(d->slot, now);
    effects_.sim_state_changed(sim_->state());
    request_slot(d->slot, d->reason);
    return;
  }
  if (sim_->take_limited())
    effects_.event("sim_switch_limited", "a switch is due but " + std::to_string(cell_.sim->max_switches_per_hour) +
                                             " switches happened in the last hour");
  if (auto at = sim_->next_deadline(now)) {
    sim_timer_->arm(std::max(Duration::zero(), Duration(*at - now)), [this] { evaluate_sim(); });
  } else {
    sim_timer_->cancel();
  }
}

nlohmann::json ModemLink::status_json() const {
  nlohmann::json j{{"link", link_.name}, {"phase", std::string(to_string(phase_))}, {"reason", reason_},
                   {"apn", link_.apn}, {"attempts", attempts_}};
  if (modem_) {
    const ModemInfo& m = *modem_;
    nlohmann::json mj{{"path", m.path}, {"index", m.index}, {"equipment_id", m.equipment_id},
                      {"primary_port", m.primary_port}, {"manufacturer", m.manufacturer}, {"model", m.model},
                      {"state", std::string(to_string(m.state))},
                      {"registration", std::string(to_string(m.registration))}, {"operator", m.operator_name},
                      {"operator_code", m.operator_code}, {"access_tech", m.access_tech}, {"signal", m.signal},
                      {"sim_slot", m.primary_slot}, {"sim_slots", m.slot_count}, {"sim_locked", m.sim_locked}};
    auto opt = [&](const char* k, const std::optional<double>& v) { mj[k] = v ? nlohmann::json(*v) : nlohmann::json(); };
    opt("rssi", m.rssi);
    opt("rsrp", m.rsrp);
    opt("rsrq", m.rsrq);
    opt("sinr", m.sinr);
    j["modem"] = mj;
  } else {
    j["modem"] = nullptr;
  }
  if (bearer_) {
    nlohmann::json bj{{"path", bearer_->path}, {"connected", bearer_->connected}, {"interface", bearer_->interface}};
    auto ip = [](const std::optional<BearerIp>& c) -> nlohmann::json {
      if (!c) return nullptr;
      nlohmann::json o;
      o["address"] = c->address ? nlohmann::json(c->address->to_string()) : nlohmann::json();
      o["gateway"] = c->gateway ? nlohmann::json(c->gateway->to_string()) : nlohmann::json();
      o["dns"] = nlohmann::json::array();
      for (const auto& d : c->dns) o["dns"].push_back(d.to_string());
      o["mtu"] = c->mtu;
      return o;
    };
    bj["ipv4"] = ip(bearer_->ipv4);
    bj["ipv6"] = ip(bearer_->ipv6);
    j["bearer"] = bj;
  } else {
    j["bearer"] = nullptr;
  }
  j["radio"] = radio_reason_.empty() ? "ok" : radio_reason_;
  if (sim_) {
    j["sim_failover"] = {{"preferred", sim_->preferred()},
                         {"current", sim_->current_slot()},
                         {"switches_last_hour", sim_->state().switches.size()}};
  }
  return j;
}

}  // namespace uplink::cellular
