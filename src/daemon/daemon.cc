#include "daemon/daemon.h"
#include "common/strings.h"

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "config/atomic_write.h"
#include "config/loader.h"

namespace uplink {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = get_logger("daemon");
  return l;
}

std::string describe(const ConfigDiff& d) { return d.empty() ? "no changes" : d.summary(); }

}  // namespace

class Daemon::EventHold {
 public:
  explicit EventHold(Daemon& d) : d_(d) { ++d_.event_holds_; }
  ~EventHold() {
    if (--d_.event_holds_ > 0) return;
    std::vector<PolicyEvent> held;
    held.swap(d_.held_events_);
    for (auto& e : held) d_.publish_policy_event(std::move(e));
  }
  EventHold(const EventHold&) = delete;
  EventHold& operator=(const EventHold&) = delete;

 private:
  Daemon& d_;
};

Daemon::Daemon(TimeSource& time, Config initial, std::optional<std::string> log_level_override)
    : time_(time), config_(std::move(initial)), log_level_override_(std::move(log_level_override)),
      started_(time.wall_now()) {}

Result<void> Daemon::start() {
  EventHold hold(*this);  // released after the policy table exists
  apply_log_level();
  Config empty;
  empty.path = config_.path;
  empty.daemon = config_.daemon;
  ConfigDiff diff = diff_configs(empty, config_);
  // Entries first: what the modules report while they apply lands in them.
  for (const auto& name : config_.link_order) add_link_entry(name, config_.links.at(name), "startup");
  for (const auto& name : config_.policy_order) policies_[name] = PolicyRuntime{};
  if (auto r = apply_modules(empty, config_, diff); !r) {
    links_.clear();
    policies_.clear();
    return r;
  }
  logger()->info("started with {} ({} links, {} policies, {} rules)", config_.path, config_.links.size(),
                 config_.policies.size(), config_.rules.size());
  return {};
}

void Daemon::stop() {
  for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) (*it)->stop();
}

Result<void> Daemon::apply_modules(const Config& from, const Config& to, const ConfigDiff& diff) {
  std::vector<Module*> done;
  for (Module* m : modules_) {
    auto r = m->apply(to, diff);
    if (r) {
      done.push_back(m);
      continue;
    }
    std::string why = std::string(m->name()) + ": " + r.error().message;
    ConfigDiff back = diff_configs(to, from);
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      if (auto rb = (*it)->apply(from, back); !rb) {
        // Nothing better to do than say so loudly: the module is now between
        // configurations; the next successful apply repairs it.
        logger()->error("rollback of module {} failed: {}; its state may not match the running configuration",
                        (*it)->name(), rb.error().message);
      }
    }
    return make_error(why);
  }
  return {};
}

Result<ConfigDiff> Daemon::apply_config(Config next) {
  EventHold hold(*this);  // released after commit(): link events of the apply come first
  ConfigDiff diff = diff_configs(config_, next);
  if (diff.empty()) {
    config_ = std::move(next);  // e.g. only comments changed: keep the text-equivalent config
    ++counters_.applies_ok;
    return diff;
  }
  // Tentative entries for what the change adds, so that reports made while
  // the modules apply land; removed again if the change is rolled back.
  for (const auto& name : diff.links_added) add_link_entry(name, next.links.at(name), "added");
  for (const auto& name : diff.policies_added) policies_[name] = PolicyRuntime{};
  if (auto r = apply_modules(config_, next, diff); !r) {
    for (const auto& name : diff.links_added) links_.erase(name);
    for (const auto& name : diff.policies_added) policies_.erase(name);
    ++counters_.applies_failed;
    logger()->error("configuration change rejected ({}): {}; the previous configuration stays in effect",
                    diff.summary(), r.error().message);
    return make_error(r.error().message + "; the previous configuration stays in effect");
  }
  if (diff.daemon_changed && next.daemon.socket != config_.daemon.socket) {
    logger()->warn("daemon.socket changed to {}: takes effect at the next restart (still listening on {})",
                   next.daemon.socket, config_.daemon.socket);
  }
  commit(std::move(next), diff);
  ++counters_.applies_ok;
  logger()->info("configuration applied: {}", diff.summary());
  return diff;
}

void Daemon::commit(Config next, const ConfigDiff& diff) {
  for (const auto& name : diff.links_removed) links_.erase(name);
  // Added links and policies have their entries since before the apply.
  for (const auto& name : diff.links_changed) {
    const LinkConfig& before = config_.links.at(name);
    const LinkConfig& after = next.links.at(name);
    if (before.enabled == after.enabled) continue;
    LinkRuntime& rt = links_[name];
    // Enabling starts from unknown: the link monitor decides up/down afresh.
    transition(name, rt, after.enabled ? LinkState::unknown : LinkState::disabled, "admin");
    rt.quality = {};
  }
  for (const auto& name : diff.policies_removed) policies_.erase(name);
  // An active member that no longer exists cannot carry traffic.
  for (auto& [pname, prt] : policies_) {
    std::erase_if(prt.active, [&](const std::string& l) { return !next.links.count(l); });
  }
  config_ = std::move(next);
  apply_log_level();
}

void Daemon::add_link_entry(const std::string& name, const LinkConfig& lc, const std::string& reason) {
  links_[name] = LinkRuntime{lc.enabled ? LinkState::unknown : LinkState::disabled, time_.wall_now(),
                             lc.enabled ? reason : "admin", {}, 0};
}

void Daemon::transition(const std::string& link, LinkRuntime& rt, LinkState to, const std::string& reason) {
  if (rt.state == to) return;
  LinkEvent ev{time_.wall_now(), link, rt.state, to, reason};
  logger()->info("state-change: [{}] {} -> {} reason: {}", link, to_string(rt.state), to_string(to), reason);
  rt.state = to;
  rt.since = ev.ts;
  rt.reason = reason;
  ++rt.transitions;
  events_.publish(ev);
}

void Daemon::apply_log_level() {
  const std::string& level = log_level_override_ ? *log_level_override_ : config_.daemon.log_level;
  if (!set_log_level(level)) logger()->warn("unknown log level '{}'; keeping the current level", level);
}

Result<ConfigDiff> Daemon::reload() {
  Config next;
  try {
    next = load_config_file(config_.path);
  } catch (const ConfigError& e) {
    ++counters_.reloads_failed;
    logger()->error("reload failed: {}; the running configuration is unchanged", e.what());
    return make_error(std::string(e.what()) + " (reload aborted; the running configuration is unchanged)");
  }
  auto r = apply_config(std::move(next));
  if (!r) {
    ++counters_.reloads_failed;
    return r;
  }
  ++counters_.reloads_ok;
  logger()->info("reloaded {}: {}", config_.path, describe(*r));
  return r;
}

Result<ConfigDiff> Daemon::edit_config(const TextEdit& edit) {
  auto failed = [&](std::string msg) -> Result<ConfigDiff> {
    ++counters_.edits_failed;
    logger()->warn("configuration edit rejected: {}", msg);
    return make_error(std::move(msg));
  };
  const std::string path = config_.path;
  std::string text;
  if (!read_text_file(path, text)) {
    return failed("cannot read " + path + ": " + std::strerror(errno) + "; nothing was changed");
  }
  auto new_text = edit(text, path);
  if (!new_text) return failed(new_text.error().message);
  Config next;
  try {
    next = parse_config(*new_text, path);
  } catch (const ConfigError& e) {
    return failed(std::string(e.what()) + " (the edit was not applied; file and running state are unchanged)");
  }
  Config previous = config_;
  auto applied = apply_config(std::move(next));
  if (!applied) return failed(applied.error().message);
  if (*new_text != text) {
    if (auto w = write_file_atomically(path, *new_text); !w) {
      // The file is the source of truth across restarts: without it written,
      // the change must not stay in effect either.
      auto back = apply_config(std::move(previous));
      if (!back) logger()->error("rollback after a failed write failed: {}", back.error().message);
      return failed("cannot write " + path + ": " + w.error().message + "; the change was rolled back");
    }
  }
  ++counters_.edits_ok;
  return applied;
}

void Daemon::report_link_state(const std::string& link, LinkState state, const std::string& reason) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  if (it->second.state == LinkState::disabled) return;  // the administrator's word wins
  if (state == LinkState::disabled) return;             // only the administrator disables
  transition(link, it->second, state, reason);
}

void Daemon::report_link_quality(const std::string& link, const LinkQuality& quality) {
  auto it = links_.find(link);
  if (it != links_.end()) it->second.quality = quality;
}

void Daemon::report_policy_active(const std::string& policy, std::vector<std::string> active) {
  auto it = policies_.find(policy);
  if (it != policies_.end()) it->second.active = std::move(active);
}

void Daemon::report_policy_change(const std::string& policy, std::vector<std::string> before,
                                  std::vector<std::string> after, std::string reason) {
  PolicyEvent e{time_.wall_now(), policy, std::move(before), std::move(after), std::move(reason)};
  if (event_holds_ > 0) {
    held_events_.push_back(std::move(e));
    return;
  }
  publish_policy_event(std::move(e));
}

void Daemon::publish_policy_event(PolicyEvent e) {
  // The policy engine logs the change itself; this line adds why.
  logger()->debug("policy-event: [{}] {} -> {} reason: {}", e.policy, join(e.active_before, "-"), join(e.active, "-"), e.reason);
  auto it = policies_.find(e.policy);
  if (it != policies_.end()) ++it->second.changes;  // a removed policy has no counter left
  events_.publish(Event(std::move(e)));
}

}  // namespace uplink
