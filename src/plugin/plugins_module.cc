#include "plugin/plugins_module.h"
#include "common/strings.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/log.h"
#include "common/units.h"
#include "config/section.h"

namespace uplink {

nlohmann::json event_json(const PluginEvent& e) {
  return {{"ts", format_wall_time(e.ts)}, {"plugin", e.plugin},   {"event", e.event},
          {"cause", e.cause},             {"detail", e.detail},   {"pid", e.pid},
          {"restarts", e.restarts},       {"model_version", e.model_version}};
}

namespace plugin {

namespace {

constexpr const char* kOwner = "plugins";
auto log() { return get_logger("plugin"); }

std::string fmt_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1fG", double(b) / double(1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1fM", double(b) / double(1ull << 20));
  else std::snprintf(buf, sizeof buf, "%.0fK", double(b) / 1024.0);
  return buf;
}


}  // namespace

std::string default_host_path() {
  if (const char* env = std::getenv("UPLINK_PLUGIN_HOST"); env && *env) return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / "uplink-plugin-host";
    if (::access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return "/usr/lib/uplinkd/uplink-plugin-host";
}

PluginsModule::PluginsModule(ModuleContext& ctx)
    : ctx_(ctx), io_(ctx.services.find<boost::asio::io_context>()), sink_(ctx.services.find<MessageSink>()) {
  if (auto* opts = ctx.services.find<PluginHostOptions>()) host_ = *opts;
  if (host_.host_path.empty()) host_.host_path = default_host_path();
  host_.runner.host_path = host_.host_path;

  ctx_.verbs.add(control::Verb{
      .name = "plugins",
      .usage = "plugins [--json]",
      .help = "plugins: state, pid, restarts, last exit, CPU, memory, samples in, messages out, model",
      .changes_state = false,
      .fields = {},
      .owner = kOwner,
      .handler = [this](const control::Request& r) { return plugins_verb(r); }});
  ctx_.verbs.add(control::Verb{
      .name = "plugin",
      .usage = "plugin NAME [--json] | plugin NAME restart | plugin NAME model install FILE [--signature FILE] | "
               "plugin NAME model rollback",
      .help = "one plugin: show, restart, install or roll back its model",
      .changes_state = true,
      // "plugin NAME" only shows: the socket group may read it.
      .read_only_form = [](const control::Request& r) {
        auto argv = r.args.find("argv");
        return argv == r.args.end() || !argv->is_array() || argv->size() <= 1;
      },
      .fields = {},
      .owner = kOwner,
      .handler = [this](const control::Request& r) { return plugin_verb(r); }});
  sub_link_ = ctx_.bus.subscribe<LinkEvent>([this](const LinkEvent&) { update_connectivity(); });
}

PluginsModule::~PluginsModule() {
  ctx_.bus.unsubscribe(sub_link_);
  ctx_.verbs.remove_owner(kOwner);
  plugins_.clear();  // runners kill and reap their hosts
}

PluginRunner* PluginsModule::runner(const std::string& name) const {
  auto it = plugins_.find(name);
  return it == plugins_.end() ? nullptr : it->second.runner.get();
}

void PluginsModule::update_connectivity() {
  bool online = false;
  for (const auto& [name, e] : ctx_.links.all())
    if (carries_traffic(e.state)) online = true;
  if (ctx_.links.all().empty()) online = true;  // nothing to judge by: assume online
  if (online == online_) return;
  online_ = online;
  log()->info("plugins: uplink {}; telling {} plugin(s)", online ? "online" : "offline", plugins_.size());
  for (auto& [name, e] : plugins_) e.runner->set_connectivity(online);
}

void PluginsModule::on_runner_event(const RunnerEvent& e) {
  ++events_by_kind_[e.event];
  ctx_.bus.publish(PluginEvent{ctx_.time.wall_now(), e.plugin, e.event, e.cause, e.detail, e.pid, e.restarts,
                               e.model_version});
}

Result<void> PluginsModule::apply(const Config& next, const ConfigDiff&) {
  static const PluginsSection kNone;
  const PluginsSection* section = next.section<PluginsSection>("plugins");
  if (!section) section = &kNone;
  if (!section->plugins.empty() && !io_)
    return make_error("plugins: no io_context service: cannot supervise plugin processes");
  if (!section->plugins.empty() && ::access(host_.host_path.c_str(), X_OK) != 0)
    return make_error("plugins: the plugin host " + host_.host_path + " is not executable; no plugin started");

  // 1. Everything that can fail, without touching the running state: open
  //    the inputs that are new (same spec as before = kept).
  std::map<std::string, std::map<std::string, std::unique_ptr<SampleInput>>> opened;
  for (const auto& [name, cfg] : section->plugins) {
    auto cur = plugins_.find(name);
    for (const auto& spec : cfg.inputs) {
      if (cur != plugins_.end() && cur->second.inputs.count(spec.original)) continue;
      auto in = SampleInput::open(*io_, ctx_.time, spec, [this, name = name](std::string_view s, double ts, double v) {
        if (auto* r = runner(name)) r->submit_sample(s, ts, v);
      });
      if (!in) return make_error("plugins." + name + ": " + in.error().message + "; configuration not applied");
      opened[name][spec.original] = std::move(*in);
    }
  }
  // 2. Commit: nothing below fails.
  if (!section->plugins.empty() && !limits_detected_) {
    limits_ = LimitsMode::detect();
    limits_detected_ = true;
    if (limits_.kind == LimitsMode::Kind::cgroup)
      log()->info("plugins: limits through cgroup v2 under {}", limits_.cgroup_parent);
    else
      log()->info("plugins: limits through rlimits (memory_max: RLIMIT_DATA; cpu_max: nice 19 + SIGSTOP/SIGCONT governor): {}", limits_.why);
  }
  for (auto it = plugins_.begin(); it != plugins_.end();) {
    if (!section->plugins.count(it->first)) {
      log()->info("plugin {}: removed from the configuration: stopping it", it->first);
      it = plugins_.erase(it);  // kills and reaps
    } else {
      ++it;
    }
  }
  for (const auto& [name, cfg] : section->plugins) {
    auto& entry = plugins_[name];
    // Inputs no longer configured go; new ones come.
    for (auto in = entry.inputs.begin(); in != entry.inputs.end();) {
      bool keep = std::any_of(cfg.inputs.begin(), cfg.inputs.end(),
                              [&](const InputSpec& s) { return s.original == in->first; });
      in = keep ? std::next(in) : entry.inputs.erase(in);
    }
    for (auto& [key, in] : opened[name]) entry.inputs[key] = std::move(in);
    if (!entry.runner) {
      entry.runner = std::make_unique<PluginRunner>(*io_, ctx_.time, host_.runner, cfg, limits_, sink_,
                                                    [this](const RunnerEvent& e) { on_runner_event(e); });
      entry.runner->set_connectivity(online_);
      entry.runner->start();
    } else if (!(entry.runner->config() == cfg)) {
      entry.runner->reconfigure(cfg);
    }
  }
  return {};
}

void PluginsModule::stop() {
  // The daemon is going away: hosts are killed (SIGKILL, reaped) rather than
  // asked, so stop never waits on a plugin.
  plugins_.clear();
}

nlohmann::json PluginsModule::statuses() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, e] : plugins_) {
    auto s = e.runner->status();
    nlohmann::json inputs = nlohmann::json::array();
    for (const auto& [spec, in] : e.inputs)
      inputs.push_back({{"input", spec}, {"lines", in->lines()}, {"bad_lines", in->bad_lines()}});
    s["inputs"] = inputs;
    list.push_back(std::move(s));
  }
  return list;
}

void PluginsModule::add_status(nlohmann::json& status) const {
  if (!plugins_.empty()) status["plugins"] = statuses();
}

control::Reply PluginsModule::plugins_verb(const control::Request& r) const {
  if (r.args.contains("argv") && !r.args["argv"].empty()) return control::Reply::failure("usage: plugins [--json]");
  auto list = statuses();
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line, "%-12s %-9s %7s %8s %-14s %6s %8s %10s %10s %-16s\n", "NAME", "STATE", "PID",
                "RESTARTS", "LAST EXIT", "CPU%", "MEM", "SAMPLES", "MESSAGES", "MODEL");
  text += line;
  for (const auto& p : list) {
    std::string last = p["last_exit"].is_null() ? "-" : p["last_exit"]["cause"].get<std::string>();
    std::string model = p["model"].is_null() || p["model"]["version"].is_null()
                            ? "-"
                            : p["model"]["version"].get<std::string>() +
                                  (p["model"]["probation"].get<bool>() ? "*" : "");
    std::string pid = p["pid"].is_null() ? "-" : std::to_string(p["pid"].get<int>());
    std::snprintf(line, sizeof line, "%-12s %-9s %7s %8llu %-14s %6.1f %8s %10llu %10llu %-16s\n",
                  p["name"].get<std::string>().c_str(), p["state"].get<std::string>().c_str(), pid.c_str(),
                  (unsigned long long)p["restarts"].get<uint64_t>(), last.c_str(), p["cpu_pct"].get<double>(),
                  fmt_bytes(p["memory_bytes"].get<uint64_t>()).c_str(),
                  (unsigned long long)p["samples_in"].get<uint64_t>(),
                  (unsigned long long)p["messages_out"].get<uint64_t>(), model.c_str());
    text += line;
  }
  if (list.empty()) text = "no plugins configured\n";
  return control::Reply::success({{"plugins", list}, {"text", text}});
}

control::Reply PluginsModule::plugin_verb(const control::Request& r) {
  std::vector<std::string> argv;
  if (r.args.contains("argv") && r.args["argv"].is_array())
    for (const auto& a : r.args["argv"])
      if (a.is_string()) argv.push_back(a.get<std::string>());
  const char* usage =
      "usage: plugin NAME [--json] | plugin NAME restart | plugin NAME model install FILE [--signature FILE] | "
      "plugin NAME model rollback";
  if (argv.empty()) return control::Reply::failure(usage);
  PluginRunner* run = runner(argv[0]);
  if (!run) return control::Reply::failure("no plugin named '" + argv[0] + "'");
  const std::string& name = argv[0];
  if (argv.size() == 1) {
    auto s = run->status();
    std::string text;
    for (auto& [k, v] : s.items()) text += k + ": " + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
    s["text"] = text;
    return control::Reply::success(s);
  }
  if (argv.size() == 2 && argv[1] == "restart") {
    run->restart();
    return control::Reply::success({{"plugin", name}, {"restarting", true}, {"text", "plugin " + name + ": restarting\n"}});
  }
  if (argv.size() >= 3 && argv[1] == "model" && argv[2] == "rollback" && argv.size() == 3) {
    auto res = run->rollback_model();
    if (!res) return control::Reply::failure("plugin " + name + ": " + res.error().message);
    std::string to = res->has_value() ? (*res)->version : "none";
    return control::Reply::success({{"plugin", name}, {"model_version", to},
                                    {"text", "plugin " + name + ": model rolled back to " + to + "\n"}});
  }
  if (argv.size() >= 4 && argv[1] == "model" && argv[2] == "install") {
    std::string file = argv[3];
    std::optional<std::string> sig;
    if (argv.size() == 6 && argv[4] == "--signature") sig = argv[5];
    else if (argv.size() != 4) return control::Reply::failure(usage);
    for (const auto* p : {&file, sig ? &*sig : nullptr})
      if (p && (p->empty() || p->front() != '/'))
        return control::Reply::failure("plugin " + name + ": " + *p +
                                       ": give an absolute path (uplinkd reads the file itself)");
    auto info = run->install_model(file, sig);
    if (!info) return control::Reply::failure("plugin " + name + ": " + info.error().message);
    return control::Reply::success(
        {{"plugin", name},
         {"model_version", info->version},
         {"sha256", info->sha256},
         {"signed", info->is_signed},
         {"text", "plugin " + name + ": model " + info->version + " installed" +
                      (info->is_signed ? " (signature verified)" : "") +
                      "; the plugin is loading it (uplinkctl events shows the outcome)\n"}});
  }
  return control::Reply::failure(usage);
}

void PluginsModule::add_metrics(std::string& text) const {
  if (plugins_.empty()) return;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [pname, e] : plugins_) text += std::string(name) + "{plugin=\"" + prometheus_label(pname) + "\"} " + value(e) + "\n";
  };
  family("uplink_plugin_up", "gauge", "1 while the plugin answers its heartbeats", [](const Entry& e) {
    return std::string(e.runner->state() == State::running ? "1" : "0");
  });
  family("uplink_plugin_restarts_total", "counter", "Restarts of the plugin host process",
         [](const Entry& e) { return std::to_string(e.runner->supervisor().restarts()); });
  family("uplink_plugin_samples_in_total", "counter", "Samples handed to the plugin",
         [](const Entry& e) { return std::to_string(e.runner->counters().samples_in); });
  family("uplink_plugin_samples_dropped_total", "counter", "Samples dropped (plugin restarting too long or too slow)",
         [](const Entry& e) { return std::to_string(e.runner->counters().samples_dropped); });
  family("uplink_plugin_messages_out_total", "counter", "Messages from the plugin taken by the uplink",
         [](const Entry& e) { return std::to_string(e.runner->counters().messages_out); });
  family("uplink_plugin_messages_dropped_total", "counter", "Messages from the plugin refused or without an uplink",
         [](const Entry& e) {
           return std::to_string(e.runner->counters().messages_dropped + e.runner->host_stats().messages_refused);
         });
  family("uplink_plugin_cpu_percent", "gauge", "CPU use of the plugin process, percent of one core",
         [](const Entry& e) { return nlohmann::json(e.runner->cpu_pct()).dump(); });
  family("uplink_plugin_memory_bytes", "gauge", "Resident memory of the plugin process",
         [](const Entry& e) { return std::to_string(e.runner->memory_bytes()); });
  text += "# HELP uplink_plugin_input_bad_lines_total Sample lines skipped as malformed\n"
          "# TYPE uplink_plugin_input_bad_lines_total counter\n";
  for (const auto& [pname, e] : plugins_)
    for (const auto& [spec, in] : e.inputs)
      text += "uplink_plugin_input_bad_lines_total{plugin=\"" + prometheus_label(pname) + "\",input=\"" + prometheus_label(spec) + "\"} " +
              std::to_string(in->bad_lines()) + "\n";
  text += "# HELP uplink_plugin_events_total Plugin events by kind\n# TYPE uplink_plugin_events_total counter\n";
  for (const auto& [kind, n] : events_by_kind_)
    text += "uplink_plugin_events_total{event=\"" + prometheus_label(kind) + "\"} " + std::to_string(n) + "\n";
}

}  // namespace plugin
}  // namespace uplink
