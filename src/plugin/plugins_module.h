#pragma once
// PluginsModule ("plugins"): every [plugins.NAME] as a supervised
// uplink-plugin-host process (ARCHITECTURE.md §1, §3 "Plugins").
//
//   inputs (udp://, unix://) --samples--> PluginRunner --> host process --> plugin
//   plugin --messages--> PluginRunner --> MessageSink (ctx.services: the durable uplink)
//   LinkEvent (bus) --any link carries traffic?--> online/offline to every plugin
//   PluginRunner events --> PluginEvent (bus, streamed: `uplinkctl events`)
//
// Verbs: plugins [--json] | plugin NAME [--json] | plugin NAME restart
//        plugin NAME model install FILE [--signature FILE] | plugin NAME model rollback
//
// The host binary: service PluginHostOptions if provided, else $UPLINK_PLUGIN_HOST,
// else uplink-plugin-host next to the running uplinkd, else
// /usr/lib/uplinkd/uplink-plugin-host.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/module.h"
#include "plugin/inputs.h"
#include "plugin/limits.h"
#include "plugin/plugin_config.h"
#include "plugin/plugin_runner.h"

namespace uplink {

// A plugin's life on the event bus (streamed: `uplinkctl events`, hooks, telemetry).
struct PluginEvent {
  static constexpr std::string_view kTopic = "plugin";
  static constexpr bool kStreamed = true;
  WallTime ts;
  std::string plugin;
  // started ready exited restarting hung alarm recovered stopped
  // model_installed model_loaded model_load_failed model_rolled_back model_confirmed model_rejected
  std::string event;
  std::string cause;   // exited/hung: crashed hung memory abi ...; model_rolled_back: load_failed, crashed_in_probation, manual
  std::string detail;
  int pid = 0;
  uint64_t restarts = 0;
  std::string model_version;
};
// {"ts","plugin","event","cause","detail","pid","restarts","model_version"}
nlohmann::json event_json(const PluginEvent& e);

namespace plugin {

struct PluginHostOptions {
  std::string host_path;
  RunnerOptions runner;  // stable_after, alarm_after, buffers
};

// The host binary path per the rules above.
std::string default_host_path();

class PluginsModule final : public Module {
 public:
  explicit PluginsModule(ModuleContext& ctx);
  ~PluginsModule() override;
  std::string_view name() const override { return "plugins"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  void add_status(nlohmann::json& status) const override;
  void add_metrics(std::string& text) const override;

  // For tests and the benchmark.
  PluginRunner* runner(const std::string& name) const;
  const LimitsMode& limits() const { return limits_; }

 private:
  struct Entry {
    std::unique_ptr<PluginRunner> runner;
    std::map<std::string, std::unique_ptr<SampleInput>> inputs;  // by InputSpec::original
  };
  control::Reply plugins_verb(const control::Request& r) const;
  control::Reply plugin_verb(const control::Request& r);
  void on_runner_event(const RunnerEvent& e);
  void update_connectivity();
  nlohmann::json statuses() const;

  ModuleContext& ctx_;
  boost::asio::io_context* io_;
  MessageSink* sink_;
  PluginHostOptions host_;
  bool limits_detected_ = false;
  LimitsMode limits_;
  std::map<std::string, Entry> plugins_;
  std::map<std::string, uint64_t> events_by_kind_;
  bool online_ = true;
  uint64_t sub_link_ = 0;
};

}  // namespace plugin
}  // namespace uplink
