#pragma once
// One cellular link's life cycle on its modem (io thread; fake time in tests):
//
//   no_service / no_modem / sim_locked / modem_failed        (hard signal: link down, with that reason)
//        |  ModemManager and a matching modem present, SIM unlocked (sim_pin sent once)
//   enabling --> registering --> connecting --> connected    (bearer IP applied, hard signal cleared)
//        ^                           |  failure: apn_rejected / auth_failed -> backoff_max at once,
//        |                           |           anything else -> backoff_initial doubling to backoff_max
//        +---- backoff <-------------+
//   connected: bearer dropped / registration lost -> down at once, IP removed, reconnect at once
//              probes fail while connected (zombie) -> disconnect + reconnect; the reset_after-th
//              time in a row -> modem reset
//   SIM-slot failover (sim_failover.h) decides slot switches from the link's usability.
//
// The link's effects go through ModemLink::Effects (the module: LinkTable
// signals, kernel addresses, events) and the ModemBackend (ModemManager).
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cellular/cellular_config.h"
#include "cellular/modem_backend.h"
#include "cellular/sim_failover.h"
#include "common/clock.h"
#include "config/config.h"
#include "uplink/link_state.h"

namespace uplink::cellular {

enum class Phase { no_service, no_modem, sim_locked, modem_failed, enabling, registering, connecting, connected,
                   backoff, switching_sim };
std::string_view to_string(Phase p);

class ModemLink {
 public:
  class Effects {
   public:
    virtual ~Effects() = default;
    // Hard signal of the link ("" clears it).
    virtual void link_down(const std::string& reason) = 0;
    // Radio below its thresholds ("" clears it).
    virtual void link_degraded(const std::string& reason) = 0;
    virtual void apply_ip(const BearerInfo& bearer) = 0;
    virtual void remove_ip() = 0;
    // A streamed modem event ("connected", "bearer_dropped", "sim_switch", ...).
    virtual void event(const std::string& kind, const std::string& detail) = 0;
    // SIM-slot history changed (persist it).
    virtual void sim_state_changed(const SimState& state) = 0;
  };

  ModemLink(const LinkConfig& link, TimeSource& time, ModemBackend& backend, Effects& effects,
            std::optional<SimState> sim_state = std::nullopt);
  ~ModemLink();
  ModemLink(const ModemLink&) = delete;
  ModemLink& operator=(const ModemLink&) = delete;

  const std::string& name() const { return link_.name; }
  const LinkConfig& config() const { return link_; }
  // A new configuration of the same link: reconnects when the bearer settings changed.
  void reconfigure(const LinkConfig& link);

  // ---- inputs ----
  void service(bool available);
  // The modem bound to this link (nullopt: none matches).
  void modem(const std::optional<ModemInfo>& info);
  void bearer(const BearerInfo& bearer);
  // The link's effective state changed (LinkTable): usability for SIM failover,
  // and the probe verdict for zombie detection.
  void link_state(LinkState effective, LinkState verdict);

  // ---- verbs ----
  Result<void> reconnect();
  Result<void> reset();
  Result<void> switch_slot(int slot);

  // ---- views ----
  Phase phase() const { return phase_; }
  const std::optional<ModemInfo>& modem_info() const { return modem_; }
  const std::optional<BearerInfo>& bearer_info() const { return bearer_; }
  const std::string& reason() const { return reason_; }
  int attempts() const { return attempts_; }
  const SimFailover* sim() const { return sim_.get(); }
  nlohmann::json status_json() const;  // no secrets

 private:
  // Wraps a backend callback: dropped when the link is gone or the modem re-appeared since.
  template <class F>
  auto guarded(F f);
  void step();
  void down(Phase phase, const std::string& reason);
  void forget_modem();
  void lose_bearer(const std::string& reason);
  void on_connected();
  void start_connect();
  void connect_done(Result<BearerInfo> r, ConnectFailure why);
  Duration backoff(bool to_max) const;
  void schedule_retry(const std::string& reason, bool to_max);
  void restart_bearer(const std::string& reason);
  void reset_modem(const std::string& reason);
  void zombie(const std::string& why);
  void request_slot(int slot, const std::string& why);
  void update_radio();
  void evaluate_sim();
  ConnectRequest request() const;

  LinkConfig link_;
  CellularLink cell_;
  TimeSource& time_;
  ModemBackend& backend_;
  Effects& effects_;
  std::unique_ptr<Timer> retry_timer_, sim_timer_, zombie_timer_;
  std::unique_ptr<SimFailover> sim_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  bool service_ = false, service_known_ = false;
  std::optional<ModemInfo> modem_;
  std::optional<BearerInfo> bearer_;
  Phase phase_ = Phase::no_service;
  std::string reason_ = "modem_pending";  // until ModemManager answers
  bool ip_applied_ = false;
  bool enable_pending_ = false, connect_pending_ = false;
  uint64_t generation_ = 0;     // bumped when the modem goes or re-appears: stale replies are dropped
  std::string pin_sent_for_;    // modem path the PIN was sent to (once per appearance)
  std::string fixed_slot_set_for_;  // equipment id whose slot was set to sim_slot
  int attempts_ = 0;            // connect attempts since the link was last usable
  int zombies_ = 0;             // zombie recoveries in a row
  bool zombie_handled_ = false; // per connection
  bool was_connected_ = false;
  std::string radio_reason_;
  LinkState effective_ = LinkState::unknown;
};

}  // namespace uplink::cellular
