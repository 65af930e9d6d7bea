#pragma once
// The tunnel module ("tunnel"): WireGuard tunnels whose underlay follows a policy.
//
//   apply(config) --> per tunnel: Tunnel (one state machine each)
//
//   Tunnel life cycle (wireguard-go backend):
//     starting --launcher.start--> waiting for the UAPI socket (poll, bounded)
//         --UAPI set (keys, port, fwmark, peers)--> netlink: addresses, IFF_UP --> running
//     running --get=1 every poll--> peers' handshake, rx/tx (stall evidence)
//     process exit / device gone --> hard signal tunnel_device on the link, restart with backoff
//     a device of that name already serving its socket at start: adopted (configured, not spawned)
//
//   Underlay: PolicyEvent/PolicyActive of the tunnel's `underlay` policy
//     --> rule "fwmark <tunnel mark>/~fwmark_mask lookup <active link's table>" (KernelObjects "tunnel:NAME")
//     --> on a move: endpoints re-sent over UAPI (update_only), one packet into the tunnel;
//         again resettle_delay later (a peer's packet to our old address re-pins WireGuard's source)
//
//   Kernel objects (owner "tunnel:NAME"): that rule (v4 + v6) and routes for the
//   peers' allowed IPs in the tunnel link's table, dev = the tunnel device.
//
//   uplinkctl tunnels [--json]; TunnelEvent on the bus; status "tunnels"; metrics.
// Private keys go to the UAPI only: never to logs, events, status or JSON.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/module.h"
#include "net/kernel_objects.h"
#include "net/netlink.h"
#include "tunnel/tunnel_config.h"
#include "tunnel/wg_backend.h"
#include "tunnel/wg_uapi.h"

namespace uplink {

struct TunnelEvent {
  static constexpr std::string_view kTopic = "tunnel";
  static constexpr bool kStreamed = true;
  WallTime ts;
  std::string tunnel;
  // "started", "adopted", "underlay_moved", "device_lost", "device_restored",
  // "wireguard_go_exited", "wireguard_go_restarted", "configure_failed", "stalled", "stopped"
  std::string event;
  std::string detail;
  std::string underlay_link;  // the active link of the underlay policy ("" = none)
};
nlohmann::json event_json(const TunnelEvent& e);

// Everything the module touches outside the process, injectable.
struct TunnelEnv {
  UapiClient* uapi = nullptr;
  WgLauncher* launcher = nullptr;
  Netlink* netlink = nullptr;        // addresses, IFF_UP, ifindex (nullptr: skipped)
  KernelObjects* objects = nullptr;  // rule + routes (nullptr: skipped)
  std::function<KernelWgProbe()> kernel_probe;
  std::function<Result<void>(const std::string& ifname, const IpAddress& dst)> kick;
  std::function<std::optional<pid_t>(const std::string& ifname)> adopted_pid;  // stop(): SO_PEERCRED
  Duration poll_interval = std::chrono::seconds(1);   // get=1
  Duration socket_wait = std::chrono::milliseconds(100);  // after spawn, until the socket answers
  int socket_wait_rounds = 50;
  Duration backoff_initial = std::chrono::seconds(1);
  Duration backoff_max = std::chrono::seconds(60);
  Duration stable_after = std::chrono::seconds(60);   // a run this long resets the backoff
  int stall_keepalives = 3;                            // tx grows, rx does not, this many keepalives
  Duration resettle_delay = std::chrono::seconds(1);   // after an underlay move: endpoints re-sent once more
};

class TunnelModule final : public Module {
 public:
  TunnelModule(ModuleContext& ctx, TunnelEnv env);
  ~TunnelModule() override;
  std::string_view name() const override { return "tunnel"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  void add_status(nlohmann::json& status) const override;
  void add_metrics(std::string& text) const override;

  // For the verb and tests.
  nlohmann::json tunnels_json() const;
  std::string tunnels_text() const;

  struct Tunnel;

 private:
  void on_policy(const std::string& policy, const std::vector<std::string>& active);
  void start(Tunnel& t);
  void wait_socket(Tunnel& t, int round);
  void configure(Tunnel& t, bool initial);
  void bring_up(Tunnel& t);
  void poll(Tunnel& t);
  void device_lost(Tunnel& t, const std::string& why);
  void schedule_restart(Tunnel& t);
  void program(Tunnel& t);
  void move_underlay(Tunnel& t, const std::string& from);
  void resend_endpoints(Tunnel& t, int again);
  void set_link_signal(Tunnel& t, bool down, const std::string& reason);
  void publish(Tunnel& t, const std::string& event, const std::string& detail);
  void shutdown(Tunnel& t, bool clean);
  int ifindex_of(const std::string& ifname) const;

  ModuleContext& ctx_;
  TunnelEnv env_;
  std::map<std::string, std::shared_ptr<Tunnel>> tunnels_;
  std::map<std::string, uint32_t> link_tables_;                     // link -> table, of the config being applied
  std::map<std::string, std::vector<std::string>> policy_active_;  // last seen, by policy
  uint32_t fwmark_mask_ = 0xff00;
  uint32_t rule_priority_base_ = 10000;
  std::vector<uint64_t> subs_;
};

// The module with real backends from ctx.services (io_context required; Netlink,
// KernelObjects used when provided). The ModuleSpec's create.
std::unique_ptr<Module> make_tunnel_module(ModuleContext& ctx);

}  // namespace uplink
