#pragma once
// The daemon's core: the running configuration and the runtime state built
// from it, changed only through transactional applies.
//
// Who changes what:
//   - apply_config(next): every configuration change (start, reload, CLI
//     edits) goes through here; modules (module.h) apply in order, a failure
//     rolls back the ones already applied and keeps the previous state.
//   - reload(): re-reads the file; a parse error changes nothing.
//   - edit_config(fn): CLI edits: file text -> fn -> validate -> apply ->
//     write the file atomically. The file is written only after the apply
//     succeeded, and the apply is rolled back if the write fails, so file and
//     running state never disagree because of an edit.
//   - LinkStateSink: modules report link states/quality and policy actives.
//   - report_policy_change(): routing reports each change of a policy's
//     active links (wiring.h connects it); it becomes a PolicyEvent.
//
// Events caused by an apply (a disabled link leaves a policy while the
// modules apply) are held until the apply is committed, so the stream shows
// "wan1 up -> disabled (admin)" before the policy change it caused.
// Everything runs on the io_context thread; nothing here is thread-safe.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "config/diff.h"
#include "daemon/event_bus.h"
#include "daemon/module.h"
#include "uplink/link_state.h"

namespace uplink {

struct LinkRuntime {
  LinkState state = LinkState::unknown;
  WallTime since;
  std::string reason;
  LinkQuality quality;
  uint64_t transitions = 0;
};

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

class Daemon final : public LinkStateSink {
 public:
  // `log_level_override`: --log-level, which wins over daemon.log_level.
  Daemon(TimeSource& time, Config initial, std::optional<std::string> log_level_override = std::nullopt);

  // Registration order is apply order. Call before start().
  void add_module(Module& m) { modules_.push_back(&m); }
  // Applies the initial configuration to every module (as a diff from an
  // empty configuration) and sets up the runtime tables.
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
  const std::map<std::string, LinkRuntime>& links() const { return links_; }
  const std::map<std::string, PolicyRuntime>& policies() const { return policies_; }
  const std::vector<Module*>& modules() const { return modules_; }
  EventBus& events() { return events_; }
  const EventBus& events() const { return events_; }
  const DaemonCounters& counters() const { return counters_; }
  WallTime started() const { return started_; }
  TimeSource& time() { return time_; }

  // LinkStateSink
  void report_link_state(const std::string& link, LinkState state, const std::string& reason) override;
  void report_link_quality(const std::string& link, const LinkQuality& quality) override;
  void report_policy_active(const std::string& policy, std::vector<std::string> active) override;

  // One change of a policy's active links (empty = last resort), with why.
  // Publishes a PolicyEvent (held while an apply runs, see above).
  void report_policy_change(const std::string& policy, std::vector<std::string> before,
                            std::vector<std::string> after, std::string reason);

 private:
  Result<void> apply_modules(const Config& from, const Config& to, const ConfigDiff& diff);
  void commit(Config next, const ConfigDiff& diff);
  void transition(const std::string& link, LinkRuntime& rt, LinkState to, const std::string& reason);
  // unknown (or disabled, with reason admin) until a module reports.
  void add_link_entry(const std::string& name, const LinkConfig& lc, const std::string& reason);
  void apply_log_level();
  // Holds policy events while alive (nestable); the last one releases them.
  class EventHold;
  void publish_policy_event(PolicyEvent e);

  TimeSource& time_;
  Config config_;
  std::optional<std::string> log_level_override_;
  std::vector<Module*> modules_;
  std::map<std::string, LinkRuntime> links_;
  std::map<std::string, PolicyRuntime> policies_;
  EventBus events_;
  int event_holds_ = 0;
  std::vector<PolicyEvent> held_events_;
  DaemonCounters counters_;
  WallTime started_;
};

}  // namespace uplink
