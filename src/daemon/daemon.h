#pragma once
// The daemon's core: the running configuration, the seams every module plugs
// into (src/core: link table, event bus, verbs, services) and the modules,
// changed only through transactional applies.
//
// Who changes what:
//   - apply_config(next): every configuration change (start, reload, CLI
//     edits) goes through here; modules apply in list order, a failure
//     rolls back the ones already applied and keeps the previous state.
//   - reload(): re-reads the file; a parse error changes nothing.
//   - edit_config(fn): CLI edits: file text -> fn -> validate -> apply ->
//     write the file atomically. The file is written only after the apply
//     succeeded, and the apply is rolled back if the write fails, so file and
//     running state never disagree because of an edit.
//   - link state: the LinkTable (src/core/link_table.h) is its one owner;
//     the daemon only adds/removes entries and sets the administrative state
//     when a configuration is committed, so "wan1 up -> disabled (admin)"
//     comes before the policy change it causes.
//   - policies' active links: followed from the PolicyEvent / PolicyActive topics.
// Everything runs on the io_context thread; nothing here is thread-safe.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "config/diff.h"
#include "control/verbs.h"
#include "core/event_bus.h"
#include "core/link_table.h"
#include "core/module.h"
#include "core/topics.h"

namespace uplink {

struct PolicyRuntime {
  std::vector<std::string> active;
  uint64_t changes = 0;  // PolicyEvents since the policy was configured
};

struct DaemonCounters {
  uint64_t applies_ok = 0;
  uint64_t applies_failed = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  uint64_t edits_ok = 0;
  uint64_t edits_failed = 0;
};

// A check made before any module applies (e.g. "daemon.socket cannot change
// while running"): an error refuses the whole change.
using ApplyGuard = std::function<Result<void>(const Config& current, const Config& next, const ConfigDiff& diff)>;

class Daemon final {
 public:
  // `log_level_override`: --log-level, which wins over daemon.log_level.
  Daemon(TimeSource& time, Config initial, std::optional<std::string> log_level_override = std::nullopt);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // What modules are created with (module.h); lives as long as the daemon
  // (modules may keep the reference).
  ModuleContext& context() { return ctx_; }
  // List order is apply order. Call before start(). The daemon owns the first form.
  Module& add_module(std::unique_ptr<Module> m);
  void add_module(Module& m) { modules_.push_back(&m); }
  void add_guard(ApplyGuard g) { guards_.push_back(std::move(g)); }

  // Applies the initial configuration to every module (as a diff from an
  // empty configuration) and sets up the link table.
  Result<void> start();
  // Stops modules in reverse order.
  void stop();

  Result<ConfigDiff> apply_config(Config next);
  Result<ConfigDiff> reload();
  // `edit` returns the new file text for the current text (config/editor.h).
  using TextEdit = std::function<Result<std::string>(std::string_view text, const std::string& path)>;
  Result<ConfigDiff> edit_config(const TextEdit& edit);

  const Config& config() const { return config_; }
  const std::string& config_path() const { return config_.path; }
  const std::map<std::string, LinkEntry>& links() const { return links_.all(); }
  LinkTable& link_table() { return links_; }
  const std::map<std::string, PolicyRuntime>& policies() const { return policies_; }
  const std::vector<Module*>& modules() const { return modules_; }
  EventBus& events() { return bus_; }
  const EventBus& events() const { return bus_; }
  control::VerbRegistry& verbs() { return verbs_; }
  const control::VerbRegistry& verbs() const { return verbs_; }
  Services& services() { return services_; }
  const DaemonCounters& counters() const { return counters_; }
  WallTime started() const { return started_; }
  TimeSource& time() { return time_; }

 private:
  Result<void> apply_modules(const Config& from, const Config& to, const ConfigDiff& diff);
  void commit(Config next, const ConfigDiff& diff);
  void apply_log_level();
  void on_policy_event(const PolicyEvent& e);

  TimeSource& time_;
  Config config_;
  std::optional<std::string> log_level_override_;
  EventBus bus_;
  LinkTable links_;
  control::VerbRegistry verbs_;
  Services services_;
  ModuleContext ctx_;
  std::vector<std::unique_ptr<Module>> owned_;
  std::vector<Module*> modules_;
  std::vector<ApplyGuard> guards_;
  std::map<std::string, PolicyRuntime> policies_;
  DaemonCounters counters_;
  WallTime started_;
};

}  // namespace uplink
