#pragma once
// MonitorModule ("monitor"): one LinkMonitor (src/probe) per configured link,
// on the daemon's seams.
//
//   apply(next) -- prepare: a prober for every new link (nothing touched yet)
//               -- commit:  create+start | reconfigure (enabled too) | stop+destroy
//
//   LinkMonitor change --> LinkTable::report_verdict + report_quality (the table decides
//                          the effective state and publishes the one LinkEvent)
//   quality timer (every second) --> LinkTable::report_quality: fresh latency/jitter/loss
//                          for status and quality-mode policies
//   bus: InterfaceEvent (netlink: carrier, address, interface gone, by interface)
//                      --> interface -> link(s) -> LinkMonitor hard signals
//   bus: HardSignalEvent (another module raised/cleared one on a link)
//                      --> LinkMonitor::on_external_signal: no probes while held; earned return
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/ip.h"
#include "core/module.h"
#include "core/topics.h"
#include "net/netlink.h"
#include "probe/link_monitor.h"
#include "probe/prober.h"

namespace uplink {

// What the kernel says about a link's interface when monitoring starts (or the
// link moves to another interface); later changes arrive as hard signals.
struct InterfaceStatus {
  bool exists = false;
  bool carrier = false;
  std::vector<IpPrefix> addresses;  // IPv6 link-local left out: never a probe source
};
// nullopt: the kernel could not be asked; the link is assumed usable and probes decide.
using InterfaceQuery = std::function<std::optional<InterfaceStatus>(const std::string& ifname)>;

// The real query over rtnetlink (one link dump and one address dump).
std::optional<InterfaceStatus> read_interface_status(Netlink& netlink, const std::string& ifname);

class MonitorModule final : public Module {
 public:
  MonitorModule(ModuleContext& ctx, probe::ProberFactory& probers, InterfaceQuery query = {},
                probe::MonitorOptions options = {});
  // Takes the ProberFactory from ctx.services, and the interface query from its Netlink (when provided).
  explicit MonitorModule(ModuleContext& ctx);
  ~MonitorModule() override;
  MonitorModule(const MonitorModule&) = delete;
  MonitorModule& operator=(const MonitorModule&) = delete;

  // How often quality figures are pushed (default 1 s).
  void set_sync_interval(Duration d) { sync_interval_ = d; }

  std::string_view name() const override { return "monitor"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  // status["probes"][link] = the link's probe figures (LinkMonitor::stats_json).
  void add_status(nlohmann::json& status) const override;
  // probe_metrics(): latency, jitter, loss, probe counters (the state family is the daemon's).
  void add_metrics(std::string& text) const override;
  // detail["probes"] = the link's probe figures (targets, counters, timeouts).
  void add_link_detail(const std::string& link, nlohmann::json& detail) const override;

  // Hard signals, by interface name. An address removal takes the link down
  // only when its interface has no address left.
  void on_carrier(const std::string& ifname, bool up);
  void on_address(const std::string& ifname, const IpPrefix& address, bool added);
  void on_link_gone(const std::string& ifname);

  // nullptr for an unknown link.
  const probe::LinkMonitor* monitor(const std::string& link) const;
  // The figures of `uplinkctl link show NAME --json` (nullopt for an unknown link).
  std::optional<nlohmann::json> link_stats(const std::string& link) const;
  size_t size() const { return links_.size(); }

 private:
  struct Entry {
    LinkConfig config;
    std::map<std::string, std::string> external;  // hard signals raised by other modules: source -> reason
    std::unique_ptr<probe::LinkMonitor> monitor;
    bool interface_present = true;
    bool addresses_known = false;    // seeded from the kernel; else removals cannot be judged
    std::set<IpPrefix> addresses;
  };

  void on_monitor_change(const std::string& link, const LinkEvent& e);
  void notify(const std::string& link, const Entry& entry);
  void on_interface(const InterfaceEvent& e);
  void on_hard_signal(const HardSignalEvent& e);
  // Brings the monitor's hard-signal flags in line with the kernel's view of its interface.
  void seed_interface(Entry& entry);
  std::vector<Entry*> entries_on(const std::string& ifname);
  void arm_sync(Duration after, bool verdicts);
  // Verdicts again (after an apply: the table may have reset one) and quality.
  void sync(bool verdicts);

  TimeSource& time_;
  EventBus& bus_;
  LinkTable& table_;
  probe::ProberFactory& probers_;
  InterfaceQuery query_;
  probe::MonitorOptions options_;
  uint64_t sub_interface_ = 0, sub_signal_ = 0;
  Duration sync_interval_ = std::chrono::seconds(1);
  std::unique_ptr<Timer> sync_timer_;
  bool stopped_ = false;
  std::map<std::string, Entry> links_;
};

}  // namespace uplink
