#pragma once
// Shared by the routing scenario tests and the failover benchmark: configs built
// from config/lab.toml, flow-send/flow-recv/tcp-hold in lab nodes, the router's
// kernel state as text, and an uplinkd whose PID we hold (for kill -9).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "harness/lab.h"

namespace uplink::lab::routing {

// ---- configuration -------------------------------------------------------------

// config/lab.toml up to its first [policies.*] table (daemon + the four links),
// followed by `policies_and_rules`.
std::string lab_config_with(const std::string& policies_and_rules);
// Policy `default` in failover mode, one tier per link in the given order (no
// stickiness: flows follow the policy both ways), last resort unreachable, and
// rules sending the LAN and everything else to it.
std::string failover_tiers(const std::vector<std::string>& links);

// Lab link name <-> the address core sees (the ISPs do not NAT): wan1 <-> 198.18.1.2,
// wan2 <-> .2.2, cell1 <-> .3.2, cell2 <-> .4.2. Unknown: the input itself.
std::string link_of_source(const std::string& address);
std::string source_of_link(const std::string& link);
std::string line_of_link(const std::string& link);  // wan1 -> eth1, ...

// ---- what flow-recv saw --------------------------------------------------------

struct Segment {  // consecutive packets of one flow from one source
  std::string src;
  uint64_t packets = 0, first_seq = 0, last_seq = 0;
  int64_t first_ns = 0, last_ns = 0;  // CLOCK_REALTIME
};
struct FlowRecord {
  uint64_t packets = 0;
  int64_t max_gap_ns = 0;
  std::vector<Segment> segments;
  // The links of the segments in arrival order, e.g. {"wan1", "wan2", "wan1"}.
  std::vector<std::string> links() const;
  // The same in send order (by sequence number): packets still in flight on a
  // slow line arrive after the first ones sent on a fast line, which is
  // reordering, not a switch back.
  std::vector<std::string> links_by_seq() const;
};
struct RecvReport {
  uint64_t packets = 0;
  std::map<uint32_t, FlowRecord> flows;
  std::map<std::string, uint64_t> flows_by_first_link;  // "wan1" -> flows whose first packet came via wan1
  const FlowRecord* flow(uint32_t id) const;
};
// The last JSON line of flow-recv's output; an error names what was wrong.
Result<RecvReport> parse_recv_report(const std::string& output);

// flow-recv in core on `port` (its output in `log`); stopped by PID.
class FlowReceiver {
 public:
  FlowReceiver(Lab& lab, uint16_t port, const std::filesystem::path& log);
  // SIGUSR1, then waits (bounded) for the new dump.
  Result<RecvReport> snapshot();
  Result<RecvReport> stop();
  uint16_t port() const { return port_; }

 private:
  Child child_;
  uint16_t port_;
};

// A long flow-send stream from `node` (until stop()); `args` after --target/--port.
class FlowStream {
 public:
  FlowStream(Lab& lab, const std::string& node, const std::string& target, uint16_t port, uint32_t flow_id,
             int rate_pps, const std::filesystem::path& log, const std::vector<std::string>& extra = {});
  // SIGTERM; flow-send's summary {"sent","errors","last_error",...} (null if it printed none).
  nlohmann::json stop();

 private:
  Child child_;
};

// flow-send N short flows (one after another, distinct source ports), waits for it.
nlohmann::json send_flows(Lab& lab, const std::string& node, const std::string& target, uint16_t port, int flows,
                          uint32_t flow_id_base, uint16_t src_port_base, int packets_per_flow, int rate_pps);

std::string tool(const std::string& name);  // <build>/bin/NAME

// ---- kernel state of the router ------------------------------------------------

struct KernelSnapshot {
  std::string rules4, routes4, rules6, routes6, ruleset;
  friend bool operator==(const KernelSnapshot&, const KernelSnapshot&) = default;
};
KernelSnapshot kernel_snapshot(Lab& lab);
// What differs, for a failure message ("" when equal).
std::string describe_difference(const KernelSnapshot& before, const KernelSnapshot& after);
// Lines that occur more than once in `text` (duplicated rules or routes).
std::vector<std::string> duplicate_lines(const std::string& text);

// ---- uplinkd -------------------------------------------------------------------

struct Event {
  int64_t ts_ns = 0;  // wall time, ms resolution
  std::string link, from, to, reason;
};
int64_t realtime_ns();

// The active members of `policy` in a `uplinkctl status --json` object.
std::vector<std::string> active_members(const nlohmann::json& status, const std::string& policy);
std::string state_of(const nlohmann::json& status, const std::string& link);

// uplinkd in the router, with its files in `dir` (uplinkd.sock, uplinkd.toml,
// state/, hooks.d/, uplinkd-N.log): the same paths as the LabTest fixture.
class Uplinkd {
 public:
  Uplinkd(Lab& lab, std::filesystem::path dir);
  ~Uplinkd();
  // Writes the config (daemon paths rewritten into dir), starts, waits until status answers.
  Result<void> start(const std::string& toml, std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));
  // Rewrites the config file only (for `uplinkctl reload`).
  void write_config(const std::string& toml);
  void kill9();
  int stop();  // SIGTERM; the exit status (0 = clean)
  bool running() const { return child_.running(); }
  std::string log() const { return child_.log(); }

  ExecResult ctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  nlohmann::json status();
  std::vector<Event> events();
  std::string socket_path() const { return (dir_ / "uplinkd.sock").string(); }

 private:
  Lab& lab_;
  std::filesystem::path dir_;
  Child child_;
  int starts_ = 0;
};

// Polls pred until true or timeout (no test failure: callers decide).
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
              std::chrono::milliseconds every = std::chrono::milliseconds(50));

}  // namespace uplink::lab::routing
