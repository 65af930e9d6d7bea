#include "daemon/daemon.h"

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

Daemon::Daemon(TimeSource& time, Config initial, std::optional<std::string> log_level_override)
    : time_(time),
      config_(std::move(initial)),
      log_level_override_(std::move(log_level_override)),
      links_(time, bus_),
      ctx_{time_, bus_, links_, verbs_, services_},
      started_(time.wall_now()) {
  services_.provide<TimeSource>(time_);
  bus_.subscribe<PolicyEvent>([this](const PolicyEvent& e) { on_policy_event(e); });
  bus_.subscribe<PolicyActive>([this](const PolicyActive& e) {
    auto it = policies_.find(e.policy);
    if (it != policies_.end()) it->second.active = e.active;
  });
}

Daemon::~Daemon() = default;

Module& Daemon::add_module(std::unique_ptr<Module> m) {
  Module& ref = *m;
  owned_.push_back(std::move(m));
  modules_.push_back(&ref);
  return ref;
}

Result<void> Daemon::start() {
  apply_log_level();
  Config empty;
  empty.path = config_.path;
  empty.daemon = config_.daemon;
  ConfigDiff diff = diff_configs(empty, config_);
  // Entries first: what the modules report while they apply lands in them.
  for (const auto& name : config_.link_order) links_.add(name, config_.links.at(name).enabled, "startup");
  for (const auto& name : config_.policy_order) policies_[name] = PolicyRuntime{};
  if (auto r = apply_modules(empty, config_, diff); !r) {
    for (const auto& name : config_.link_order) links_.remove(name);
    policies_.clear();
    return r;
  }
  logger()->info("started with {} ({} links, {} policies, {} rules, {} modules)", config_.path, config_.links.size(),
                 config_.policies.size(), config_.rules.size(), modules_.size());
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
  ConfigDiff diff = diff_configs(config_, next);
  if (diff.empty()) {
    config_ = std::move(next);  // e.g. only comments changed: keep the text-equivalent config
    ++counters_.applies_ok;
    return diff;
  }
  for (const auto& guard : guards_) {
    if (auto g = guard(config_, next, diff); !g) {
      ++counters_.applies_failed;
      logger()->error("configuration change rejected: {}; the previous configuration stays in effect",
                      g.error().message);
      return make_error(g.error().message + "; the previous configuration stays in effect");
    }
  }
  // Tentative entries for what the change adds, so that reports made while
  // the modules apply land; removed again if the change is rolled back.
  for (const auto& name : diff.links_added) links_.add(name, next.links.at(name).enabled, "added");
  for (const auto& name : diff.policies_added) policies_[name] = PolicyRuntime{};
  if (auto r = apply_modules(config_, next, diff); !r) {
    for (const auto& name : diff.links_added) links_.remove(name);
    for (const auto& name : diff.policies_added) policies_.erase(name);
    ++counters_.applies_failed;
    logger()->error("configuration change rejected ({}): {}; the previous configuration stays in effect",
                    diff.summary(), r.error().message);
    return make_error(r.error().message + "; the previous configuration stays in effect");
  }
  commit(std::move(next), diff);
  ++counters_.applies_ok;
  logger()->info("configuration applied: {}", diff.summary());
  return diff;
}

void Daemon::commit(Config next, const ConfigDiff& diff) {
  for (const auto& name : diff.links_removed) links_.remove(name);
  for (const auto& name : diff.policies_removed) policies_.erase(name);
  // An active member that no longer exists cannot carry traffic.
  for (auto& [pname, prt] : policies_) {
    std::erase_if(prt.active, [&](const std::string& l) { return !next.links.count(l); });
  }
  std::vector<std::pair<std::string, bool>> admin;
  for (const auto& name : diff.links_changed) {
    const LinkConfig& before = config_.links.at(name);
    const LinkConfig& after = next.links.at(name);
    if (before.enabled != after.enabled) admin.emplace_back(name, after.enabled);
  }
  config_ = std::move(next);
  apply_log_level();
  // Last: subscribers of the link event (routing) see the committed configuration.
  for (const auto& [name, enabled] : admin) links_.set_enabled(name, enabled);
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

void Daemon::on_policy_event(const PolicyEvent& e) {
  auto it = policies_.find(e.policy);
  if (it == policies_.end()) return;  // a removed policy has no entry left
  it->second.active = e.active;
  ++it->second.changes;
}

}  // namespace uplink
