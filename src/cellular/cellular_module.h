#pragma once
// The cellular module (ARCHITECTURE.md §3 "Cellular links"): one ModemLink
// per `kind = "cellular"` link, modems matched by the link's `modem`
// selector, over one ModemBackend (ModemManager through libmm-glib).
//
//   ModemBackend --(service, modems, bearers)--> CellularModule --> ModemLink (per link)
//   LinkTable <-- hard signal "cellular", soft signal "radio" --------+
//   kernel    <-- bearer address + MTU on the interface (Netlink) ----+
//   routing   <-- LinkNextHopEvent (the bearer's gateway) ------------+
//   bus       <-- ModemEvent ("connected", "bearer_dropped", "sim_switch", ...), streamed
//
// Verbs: `modems [--json]`, `modem NAME sim-slot N | reconnect | reset`.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellular/modem_backend.h"
#include "cellular/modem_link.h"
#include "common/worker.h"
#include "core/module.h"

namespace uplink {

class Netlink;

struct ModemEvent {
  static constexpr std::string_view kTopic = "modem";
  static constexpr bool kStreamed = true;
  WallTime ts;
  std::string link;
  std::string event;   // connected, bearer_dropped, registration_lost, apn_rejected, auth_failed, zombie_bearer,
                       // modem_reset, sim_switch, sim_switch_limited, radio_degraded, radio_recovered, ...
  std::string detail;  // never a secret
  std::string modem;   // equipment id ("" when none)
};
nlohmann::json event_json(const ModemEvent& e);

// Which modem a selector picks among `modems` ("any" | "index:N" | "port:NAME" | "imei:ID"),
// skipping paths in `taken`. Exact selectors never fall back to another modem.
std::optional<std::string> match_modem(const std::string& selector, const std::map<std::string, cellular::ModemInfo>& modems,
                                       const std::vector<std::string>& taken);

class CellularModule final : public Module, private cellular::ModemBackend::Listener {
 public:
  // backend: ModemManager (or a fake); netlink: addresses and MTU (nullptr: not applied).
  CellularModule(ModuleContext& ctx, cellular::ModemBackend& backend, Netlink* netlink);
  ~CellularModule() override;
  std::string_view name() const override { return "cellular"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  void add_status(nlohmann::json& status) const override;
  void add_metrics(std::string& text) const override;
  void add_link_detail(const std::string& link, nlohmann::json& detail) const override;

  nlohmann::json modems_json() const;
  std::string modems_text() const;
  const cellular::ModemLink* link(const std::string& name) const;

 private:
  class LinkEffects;
  struct Entry;

  void on_service(bool available) override;
  void on_modem(const cellular::ModemInfo& modem) override;
  void on_modem_gone(const std::string& path) override;
  void on_bearer(const std::string& modem_path, const cellular::BearerInfo& bearer) override;
  void rebind();
  control::Reply modem_verb(const control::Request& req);
  std::optional<cellular::SimState> load_sim_state(const std::string& link) const;
  std::string sim_state_path(const std::string& link) const;

  ModuleContext& ctx_;
  cellular::ModemBackend& backend_;
  Netlink* netlink_;
  bool started_ = false, stopped_ = false;
  bool service_ = false;
  std::string state_dir_;
  std::map<std::string, cellular::ModemInfo> modems_;  // by path
  std::map<std::string, std::unique_ptr<Entry>> links_;
  std::vector<std::string> order_;                     // cellular links in file order
  std::vector<uint64_t> subs_;
};

// With ModemManager through libmm-glib (io_context from ctx.services), or the
// ModemBackend in ctx.services when one is provided (tests). The ModuleSpec's create.
std::unique_ptr<Module> make_cellular_module(ModuleContext& ctx);

}  // namespace uplink
