#pragma once
// The lab from C++: bring it up under a prefix, run commands in its nodes,
// inject faults, and always tear it down (destructor, SIGINT/SIGTERM, atexit).
// Thin over the uplink-lab script so tests and the shell see the same lab.
#include <chrono>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "harness/process.h"

namespace uplink::lab {

// Paths baked in at build time (CMake compile definitions).
std::string bin_dir();         // <build>/bin: uplink-lab, linkemu, udp-* tools
std::string uplinkd_path();    // <build>/bin/uplinkd (may not exist yet)
std::string uplinkctl_path();  // <build>/bin/uplinkctl
std::string source_dir();      // the checkout (config/lab.toml lives there)

// A timestamp of uplinkd's events ("ts", format_wall_time(): "2026-11-26T10:00:00.123Z",
// UTC) -> ms since the epoch; nullopt if malformed.
std::optional<int64_t> parse_wall_ms(const std::string& iso);

// "t" + 5 random [a-z0-9]: short enough for interface-free namespace names, unique per run.
std::string random_prefix();

// Line facts of the default topology (see netns-tests/README.md).
struct LineInfo {
  std::string name;     // router interface: eth1 eth2 wwan0 wwan1
  std::string isp;      // isp-eth ...
  int n;                // 1..4
  std::string address;  // 198.18.N.2
  std::string gateway;  // 198.18.N.1
  std::string address6; // 2001:db8:N::2
  std::string gateway6; // 2001:db8:N::1
};
const std::vector<LineInfo>& lines();
const LineInfo& line_info(const std::string& name);

class Lab {
 public:
  explicit Lab(std::string prefix = random_prefix());
  ~Lab();  // down(), if up
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  const std::string& prefix() const { return prefix_; }
  std::string ns(const std::string& node) const { return prefix_ + "-" + node; }

  // `uplink-lab up`, with `options` after the verb (e.g. {"--plain-routing"}).
  Result<void> up(const std::vector<std::string>& options = {});
  Result<void> down();
  bool is_up() const { return up_; }

  // `uplink-lab fault LINE ARGS...`, e.g. fault("eth1", {"delay", "50"}).
  Result<void> fault(const std::string& line, const std::vector<std::string>& args);
  // Runs argv inside `node` (router, lan, core, private, isp-eth, wire-eth1, ...).
  ExecResult exec(const std::string& node, const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // A long-running process inside `node`; stopped by PID when the Child goes away.
  Child spawn(const std::string& node, const std::vector<std::string>& argv, const std::string& log_path);
  // The `uplink-lab status --json` object as text.
  ExecResult status_json();

  // Routes 203.0.113.0/24 and 2001:db8:ffff::/48 (and 10.200.0.0/16) through one
  // line for traffic from that line's address (table 900+N, rule priority 90+N),
  // so tests without uplinkd can pick the line with `--bind 198.18.N.2`.
  Result<void> pin_line(const std::string& line);
  Result<void> unpin_line(const std::string& line);

 private:
  std::string prefix_;
  bool up_ = false;
};

}  // namespace uplink::lab
