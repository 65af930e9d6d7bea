#pragma once
// Shared by the monitoring scenario tests and the `detect` benchmark:
//  - LinkSpec / config_toml(): an uplinkd configuration for the lab's lines,
//    starting from the shipped defaults (src/config/config.h), so a test
//    states only what it changes;
//  - EventFollower: `uplinkctl events --follow --json` in the background,
//    its output in a file, parsed on demand: exact transition sequences and
//    the daemon's own timestamps;
//  - small readers for `link show --json` and `uplinkctl metrics`.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness/lab.h"
#include "harness/process.h"

namespace uplink::lab::monitoring {

// One [links.NAME] section. Defaults = the product's defaults, except
// reliability 2 (the documented 3 targets / 2 of 3 profile).
struct LinkSpec {
  std::string name;               // wan1
  std::string kind = "ethernet";  // ethernet | broadband | cellular
  std::string interface;          // eth1 | eth2 | wwan0 | wwan1
  std::string gateway;            // "" = none (learned)
  std::optional<bool> metered;    // unset = kind's default (cellular: metered)
  std::vector<std::string> targets = {"203.0.113.1", "203.0.113.2", "203.0.113.3"};
  int reliability = 2;
  std::string interval = "1s";
  std::string fast_interval = "100ms";
  std::string timeout = "auto";
  int down_after = 3;
  int up_after = 5;
  // [links.NAME.quality]; empty / unset = that threshold is not configured.
  std::string max_latency;
  std::optional<double> max_loss;
  std::string max_jitter;
};

// The four lab lines as config/lab.toml names them (wan1 eth1 ethernet,
// wan2 eth2 broadband, cell1 wwan0 cellular, cell2 wwan1 cellular), with the
// shipped probe defaults and no quality thresholds.
std::vector<LinkSpec> lab_links();
// The same four lines, all non-metered ethernet links named wan1..wan4
// (benchmarks that want identical links).
std::vector<LinkSpec> ethernet_links();
LinkSpec& find_link(std::vector<LinkSpec>& links, const std::string& name);

// A complete configuration: [daemon] (paths are rewritten by the fixture),
// the links, one failover policy over them in order and a catch-all rule.
std::string config_toml(const std::vector<LinkSpec>& links, const std::string& log_level = "info");

// Wall clock in ms since the epoch (the same clock uplinkd stamps events with).
int64_t now_ms();

struct Event {
  int64_t ts_ms = 0;
  std::string link, from, to, reason;
  std::string text() const;  // "wan1 up->down (probe_timeout)"
};
std::string describe(const std::vector<Event>& events);

// `uplinkctl --socket SOCKET events --follow --json` > log_path, stopped by PID
// when destroyed.
class EventFollower {
 public:
  EventFollower(const std::string& uplinkctl, const std::string& socket, const std::string& log_path);
  EventFollower(const EventFollower&) = delete;
  EventFollower& operator=(const EventFollower&) = delete;

  bool running() const { return child_.running(); }
  const std::string& log_path() const { return path_; }
  // Every complete event line written so far, in arrival order.
  std::vector<Event> events() const;
  // Events stamped at or after `from_ms`, of `link` ("" = every link).
  std::vector<Event> since(int64_t from_ms, const std::string& link = "") const;
  // The first event of `link` to state `to` stamped at or after `from_ms`,
  // polling the file every 5 ms for at most `timeout`.
  std::optional<Event> wait_for(const std::string& link, const std::string& to, int64_t from_ms,
                                std::chrono::milliseconds timeout) const;

 private:
  std::string path_;
  Child child_;
};

// Depth-first: every object inside `j` (itself included) that has all `keys`.
std::vector<nlohmann::json> find_objects(const nlohmann::json& j, const std::vector<std::string>& keys);
// The first number found under `key` anywhere in `j` (depth-first).
std::optional<double> find_number(const nlohmann::json& j, const std::string& key);

// Sum of the Prometheus samples of `family` whose label set contains every
// `label="value"` pair of `labels` (e.g. {"link=\"wan1\""}); nullopt if none.
std::optional<double> metric_sum(const std::string& text, const std::string& family,
                                 const std::vector<std::string>& labels = {});
// The values of those samples, one per exposition line.
std::vector<double> metric_samples(const std::string& text, const std::string& family,
                                   const std::vector<std::string>& labels = {});
// Families declared (# TYPE) more than once: invalid exposition.
std::vector<std::string> duplicate_families(const std::string& text);

}  // namespace uplink::lab::monitoring
