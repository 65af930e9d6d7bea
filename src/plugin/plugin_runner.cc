#include "plugin/plugin_runner.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/units.h"
#include "plugin/host_exit.h"
#include "uplink/plugin.h"

namespace uplink::plugin {

namespace {

auto log() { return get_logger("plugin"); }

struct ProcUsage {
  uint64_t cpu_ticks = 0;
  uint64_t rss = 0, vm_data = 0;
  bool ok = false;
};

ProcUsage read_usage(pid_t pid) {
  ProcUsage u;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(st, line)) return u;
  auto close = line.rfind(')');
  if (close == std::string::npos) return u;
  std::istringstream in(line.substr(close + 2));
  std::string field;
  // Fields after the command: state(3) ... utime(14) stime(15). A short line
  // is no reading (a partial sum would look like time going backwards).
  int i = 3;
  for (; i <= 15 && in >> field; ++i) {
    if (i == 14 || i == 15) u.cpu_ticks += std::stoull(field);
  }
  if (i <= 15) return u;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss = std::stoull(line.substr(6)) * 1024;
    else if (line.rfind("VmData:", 0) == 0) u.vm_data = std::stoull(line.substr(7)) * 1024;
  }
  u.ok = true;
  return u;
}

ExitCause cause_from_fatal(std::string_view reason) {
  if (reason == "abi") return ExitCause::abi;
  if (reason == "dlopen") return ExitCause::load;
  if (reason == "create") return ExitCause::create;
  if (reason == "privileges" || reason == "limits") return ExitCause::setup;
  if (reason == "protocol") return ExitCause::protocol;
  if (reason == "memory") return ExitCause::memory;
  return ExitCause::exited;
}

}  // namespace

struct PluginRunner::Conn {
  // A socket (not a plain descriptor): asio sends with MSG_NOSIGNAL, so a host
  // that died never raises SIGPIPE here.
  Conn(boost::asio::io_context& io, int fd) : sock(io, boost::asio::local::stream_protocol(), fd), buf(256 * 1024) {}
  boost::asio::local::stream_protocol::socket sock;
  ipc::FrameDecoder decoder;
  // Two lanes towards the host: heartbeats go ahead of queued data so a busy
  // but healthy plugin is not taken for a hung one; everything else (samples,
  // connectivity, models, shutdown) stays in order. Whole frames per entry.
  std::string ping_lane;
  std::deque<std::string> data;
  size_t data_bytes = 0;
  std::string writing;
  bool write_busy = false;
  bool closed = false;
  std::vector<char> buf;
  std::string cgroup;
};

PluginRunner::PluginRunner(boost::asio::io_context& io, TimeSource& time, RunnerOptions options, PluginConfig config,
                           const LimitsMode& limits, MessageSink* sink, EventFn on_event)
    : io_(io),
      time_(time),
      opts_(std::move(options)),
      config_(std::move(config)),
      limits_(limits),
      sink_(sink),
      on_event_(std::move(on_event)),
      sup_(time, policy_from(config_), *this, [this](const SupervisorEvent& e) { on_supervisor_event(e); }),
      probation_timer_(time.make_timer()),
      cpu_timer_(time.make_timer()) {
  if (!config_.model_dir.empty()) store_.emplace(config_.model_dir, config_.public_key);
}

PluginRunner::~PluginRunner() {
  *alive_ = false;
  close_conn();
  child_.reset();  // SIGKILLs and reaps a process still running
}

RestartPolicy PluginRunner::policy_from(const PluginConfig& c) const {
  RestartPolicy p;
  p.backoff_max = c.restart_backoff_max;
  p.heartbeat_timeout = c.heartbeat_timeout;
  p.stable_after = opts_.stable_after;
  p.alarm_after = opts_.alarm_after;
  return p;
}

void PluginRunner::emit(std::string event, std::string cause, std::string detail, Duration backoff) {
  RunnerEvent e;
  e.plugin = config_.name;
  e.event = std::move(event);
  e.cause = std::move(cause);
  e.detail = std::move(detail);
  e.pid = pid();
  e.restarts = sup_.restarts();
  if (store_)
    if (auto cur = store_->current()) e.model_version = cur->version;
  e.backoff = backoff;
  if (on_event_) on_event_(e);
}

void PluginRunner::on_supervisor_event(const SupervisorEvent& e) {
  using K = SupervisorEvent::Kind;
  std::string cause = (e.kind == K::exited || e.kind == K::hung || e.kind == K::alarm || e.kind == K::restarting)
                          ? std::string(cause_name(e.cause))
                          : "";
  switch (e.kind) {
    case K::exited:
      last_exit_ = LastExit{cause, e.detail, format_wall_time(time_.wall_now())};
      log()->warn("plugin {}: exited ({}: {})", config_.name, cause, e.detail);
      break;
    case K::hung: log()->warn("plugin {}: {}: killing it", config_.name, e.detail); break;
    case K::alarm: log()->error("plugin {}: {}; still restarting it", config_.name, e.detail); break;
    case K::restarting:
      log()->info("plugin {}: restarting in {}", config_.name, format_duration(e.backoff));
      break;
    default: break;
  }
  emit(std::string(event_kind_name(e.kind)), cause, e.detail, e.backoff);
}

Result<void> PluginRunner::launch() {
  ready_ = false;
  fatal_.reset();
  cpu_pct_ = 0;
  rss_ = vm_data_ = 0;
  std::string cgroup;
  if (limits_.kind == LimitsMode::Kind::cgroup) {
    auto g = cgroup_prepare(limits_, config_.name, config_.memory_max, config_.cpu_max);
    if (!g) return make_error("cannot apply limits: " + g.error().message);
    cgroup = *g;
    oom_kills_at_start_ = cgroup_oom_kills(cgroup);
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return make_error(std::string("socketpair: ") + strerror(errno));
  int size = 4 << 20;
  for (int fd : sv) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  SpawnSpec spec;
  spec.path = opts_.host_path;
  spec.args = {"--plugin", config_.path, "--fd", "3", "--name", config_.name};
  if (!config_.user.empty()) spec.args.insert(spec.args.end(), {"--user", config_.user});
  if (limits_.kind == LimitsMode::Kind::rlimit) {
    if (config_.memory_max) spec.args.insert(spec.args.end(), {"--memory-max", std::to_string(*config_.memory_max)});
    if (config_.cpu_max) spec.args.insert(spec.args.end(), {"--nice", "19"});
  }
  spec.fds = {{sv[1], 3}};
  auto alive = alive_;
  auto child = ChildProcess::spawn(
      io_, spec,
      [this, alive](const ExitStatus& s) {
        if (*alive) on_child_exit(s);
      },
      [this, alive](std::string_view line) {
        if (*alive) log()->info("plugin {}: {}", config_.name, line);
      });
  ::close(sv[1]);
  if (!child) {
    ::close(sv[0]);
    return child.error();
  }
  child_ = std::move(*child);
  if (!cgroup.empty()) {
    if (auto r = cgroup_add(cgroup, child_->pid()); !r) {
      // Never run a plugin without the limits it was configured with.
      ::close(sv[0]);
      child_.reset();
      return make_error("cannot apply limits: " + r.error().message);
    }
  }
  conn_ = std::make_shared<Conn>(io_, sv[0]);
  conn_->cgroup = cgroup;
  started_at_ = time_.wall_now();
  last_cpu_ticks_.reset();
  last_cpu_at_ = time_.now();
  std::string frames;
  ipc::encode_init(frames, ipc::Init{config_.name, config_.config_json, config_.msg_class});
  write(frames);

  // Read loop: one outstanding read per connection.
  std::shared_ptr<Conn> c = conn_;
  struct Reader {
    static void go(PluginRunner* self, std::shared_ptr<Conn> c, std::shared_ptr<bool> alive) {
      c->sock.async_read_some(boost::asio::buffer(c->buf),
                              [self, c, alive](const boost::system::error_code& ec, size_t n) {
                                if (!*alive || c->closed || ec) return;  // EOF: the exit follows
                                c->decoder.append(c->buf.data(), n);
                                while (auto f = c->decoder.next()) {
                                  self->on_frame(*f);
                                  if (c->closed) return;
                                }
                                if (c->decoder.failed()) {
                                  log()->error("plugin {}: protocol error from the host ({}): killing it",
                                               self->config_.name, c->decoder.error());
                                  self->fatal_ = ipc::Fatal{"protocol", c->decoder.error()};
                                  self->kill_process();
                                  return;
                                }
                                go(self, c, alive);
                              });
    }
  };
  Reader::go(this, c, alive_);
  throttled_ = false;
  cpu_budget_s_ = 0;
  gov_ticks_.reset();
  if (limits_.kind == LimitsMode::Kind::rlimit && config_.cpu_max) governor_tick();
  log()->info("plugin {}: started {} (pid {}, limits {})", config_.name, config_.path, child_->pid(),
              limits_.name());
  return {};
}

void PluginRunner::on_frame(const ipc::FrameDecoder::View& f) {
  switch (f.type) {
    case ipc::Type::ready: {
      auto r = ipc::decode_ready(f.payload);
      if (r) plugin_version_ = r->plugin_version;
      ready_ = true;
      sup_.on_ready();
      std::string frames;
      ipc::encode_connectivity(frames, online_);
      write(frames);
      send_load_current("start");
      // Samples held while it was starting, in order.
      while (!pending_.empty()) {
        batch_.push_back(std::move(pending_.front()));
        pending_.pop_front();
        if (batch_.size() >= opts_.batch_max) flush_batch();
      }
      flush_batch();
      return;
    }
    case ipc::Type::pong:
      if (auto seq = ipc::decode_ping(f.payload)) sup_.on_pong(*seq);
      return;
    case ipc::Type::stats:
      if (auto s = ipc::decode_stats(f.payload)) host_stats_ = *s;
      return;
    case ipc::Type::message: {
      auto m = ipc::decode_message(f.payload);
      if (!m) break;
      std::string_view cls = m->msg_class.empty() ? std::string_view(config_.msg_class) : m->msg_class;
      if (sink_ && sink_->submit(config_.name, cls, m->topic, m->payload)) ++counters_.messages_out;
      else ++counters_.messages_dropped;
      return;
    }
    case ipc::Type::log: {
      auto l = ipc::decode_log(f.payload);
      if (!l) break;
      static constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::trace, spdlog::level::debug,
                                                              spdlog::level::info, spdlog::level::warn,
                                                              spdlog::level::err};
      log()->log(kLevels[l->level], "plugin {}: {}", config_.name, l->text);
      return;
    }
    case ipc::Type::model_result: {
      auto r = ipc::decode_model_result(f.payload);
      if (!r) break;
      if (r->id != load_waiting_) return;  // an answer to a load we no longer care about
      load_waiting_ = 0;
      if (r->code == UPLINK_OK) {
        log()->info("plugin {}: model {} loaded: {}", config_.name, loading_version_, r->message);
        emit("model_loaded", "", r->message);
      } else {
        log()->warn("plugin {}: model {} refused (code {}): {}", config_.name, loading_version_, r->code, r->message);
        emit("model_load_failed", "load_failed", r->message);
        rollback_auto("load_failed: " + r->message);
      }
      return;
    }
    case ipc::Type::fatal:
      if (auto fa = ipc::decode_fatal(f.payload)) {
        log()->error("plugin {}: {}: {}", config_.name, fa->reason, fa->message);
        fatal_ = *fa;
      }
      return;
    default: break;
  }
  log()->error("plugin {}: unexpected or malformed {} frame from the host: killing it", config_.name,
               ipc::type_name(f.type));
  fatal_ = ipc::Fatal{"protocol", "malformed " + std::string(ipc::type_name(f.type)) + " frame"};
  kill_process();
}

ExitCause PluginRunner::classify(const ExitStatus& s, std::string& detail) const {
  detail = s.describe();
  if (fatal_) {
    detail = fatal_->message + (s.signaled ? " (" + s.describe() + ")" : "");
    return cause_from_fatal(fatal_->reason);
  }
  if (!s.signaled) {
    auto reason = host_exit_reason(s.code);
    if (!reason.empty()) return cause_from_fatal(reason == "usage" ? "setup" : reason);
    return ExitCause::exited;
  }
  if (s.signal == SIGXCPU) return ExitCause::cpu;
  if (conn_ && !conn_->cgroup.empty() && cgroup_oom_kills(conn_->cgroup) > oom_kills_at_start_) {
    detail += ", out of memory (memory_max)";
    return ExitCause::memory;
  }
  if (config_.memory_max && vm_data_ >= *config_.memory_max / 100 * 85) {
    detail += ", data size " + format_size(vm_data_) + " near memory_max " + format_size(*config_.memory_max);
    return ExitCause::memory;
  }
  return ExitCause::crashed;
}

// The host's last words (a Fatal frame, messages, a model result) may still
// be in the socket when its exit is seen first: read them before judging.
void PluginRunner::drain_conn() {
  auto c = conn_;
  if (!c) return;
  int fd = c->sock.native_handle();
  for (int i = 0; i < 256; ++i) {
    ssize_t n = ::recv(fd, c->buf.data(), c->buf.size(), MSG_DONTWAIT);
    if (n <= 0) break;
    c->decoder.append(c->buf.data(), size_t(n));
  }
  while (!c->closed) {
    auto f = c->decoder.next();
    if (!f) break;
    on_frame(*f);
  }
}

void PluginRunner::on_child_exit(const ExitStatus& status) {
  cpu_timer_->cancel();
  throttled_ = false;
  drain_conn();
  std::string detail;
  ExitCause cause = classify(status, detail);
  if (auto ordered = sup_.ordered()) cause = *ordered;
  close_conn();
  ready_ = false;
  // Destroy the finished ChildProcess outside its own callback.
  boost::asio::post(io_, [c = std::shared_ptr<ChildProcess>(std::move(child_))] {});
  if (is_failure(cause) && probation_version_ && store_) {
    auto cur = store_->current();
    if (cur && cur->version == *probation_version_)
      rollback_auto("crashed_in_probation: " + std::string(cause_name(cause)) + ", " + detail);
  }
  sup_.on_exit(cause, detail);
}

void PluginRunner::close_conn() {
  if (!conn_) return;
  conn_->closed = true;
  boost::system::error_code ignored;
  conn_->sock.close(ignored);
  if (!conn_->cgroup.empty() && !child_) cgroup_remove(conn_->cgroup);
  conn_.reset();
  batch_.clear();
  load_waiting_ = 0;
}

void PluginRunner::write(std::string& frames) {
  if (!conn_ || frames.empty()) return;
  conn_->data_bytes += frames.size();
  conn_->data.push_back(std::move(frames));
  frames.clear();
  pump();
}

void PluginRunner::pump() {
  auto c = conn_;
  if (!c || c->write_busy) return;
  c->writing.clear();
  std::swap(c->writing, c->ping_lane);
  // Bounded writes, so a heartbeat waits behind at most one of them.
  while (!c->data.empty() && c->writing.size() < 256 * 1024) {
    c->writing += c->data.front();
    c->data_bytes -= c->data.front().size();
    c->data.pop_front();
  }
  if (c->writing.empty()) return;
  c->write_busy = true;
  boost::asio::async_write(c->sock, boost::asio::buffer(c->writing),
                           [this, c, alive = alive_](const boost::system::error_code& ec, size_t) {
                             c->write_busy = false;
                             c->writing.clear();
                             if (ec || !*alive || c->closed) return;
                             pump();
                           });
}

void PluginRunner::submit_sample(std::string_view stream, double ts, double value) {
  if (stream.empty() || stream.size() > ipc::kMaxStreamName) {
    ++counters_.samples_dropped;
    return;
  }
  if (!ready_) {
    hold(ipc::Sample{std::string(stream), ts, value});
    return;
  }
  batch_.push_back(ipc::Sample{std::string(stream), ts, value});
  if (batch_.size() >= opts_.batch_max) flush_batch();
  else schedule_flush();
}

// Held until Ready: at most pending_max, the oldest dropped (and counted).
void PluginRunner::hold(ipc::Sample s) {
  if (pending_.size() >= opts_.pending_max) {
    pending_.pop_front();
    ++counters_.samples_dropped;
  }
  pending_.push_back(std::move(s));
}

void PluginRunner::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  boost::asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    flush_posted_ = false;
    flush_batch();
  });
}

void PluginRunner::flush_batch() {
  if (batch_.empty()) return;
  if (!conn_ || !ready_) {
    for (auto& s : batch_) hold(std::move(s));
    batch_.clear();
    return;
  }
  if (queued_bytes() > opts_.out_max) {
    counters_.samples_dropped += batch_.size();  // the plugin cannot keep up
  } else {
    std::string frame;
    ipc::encode_samples(frame, batch_.data(), batch_.size());
    counters_.samples_in += batch_.size();
    write(frame);
  }
  batch_.clear();
}

size_t PluginRunner::queued_bytes() const {
  return conn_ ? conn_->ping_lane.size() + conn_->data_bytes + conn_->writing.size() : 0;
}

void PluginRunner::set_connectivity(bool online) {
  if (online == online_) return;
  online_ = online;
  if (!ready_) return;  // told at Ready
  flush_batch();
  std::string frames;
  ipc::encode_connectivity(frames, online);
  write(frames);
}

void PluginRunner::send_ping(uint64_t seq) {
  flush_batch();
  if (conn_) {
    ipc::encode_ping(conn_->ping_lane, seq);
    pump();
  }
  sample_usage();
}

void PluginRunner::send_shutdown() {
  if (throttled_ && child_) child_->signal_group(SIGCONT);
  throttled_ = false;
  cpu_timer_->cancel();
  flush_batch();
  std::string frames;
  ipc::encode_shutdown(frames);
  write(frames);
}

void PluginRunner::kill_process() {
  if (child_) {
    child_->signal_group(SIGKILL);
    child_->signal(SIGKILL);
  }
}

// cpu_max without cgroups: every 100 ms, the process earns cpu_max% of the
// elapsed time and spends what it used; in debt it is stopped (SIGSTOP on its
// group) until the debt is paid (SIGCONT). Coarse (10 ms clock ticks) but a
// real cap, averaged over a fraction of a second; a plugin spinning inside a
// call is caught by the heartbeat anyway.
void PluginRunner::governor_tick() {
  if (!child_ || !config_.cpu_max) return;
  auto u = read_usage(child_->pid());
  TimePoint now = time_.now();
  if (u.ok && gov_ticks_) {
    double dt = std::chrono::duration<double>(now - gov_at_).count();
    double used = double(u.cpu_ticks - *gov_ticks_) / double(sysconf(_SC_CLK_TCK));
    cpu_budget_s_ = std::min(cpu_budget_s_ + dt * *config_.cpu_max / 100.0 - used, 0.05);  // 50 ms of burst
    if (cpu_budget_s_ < 0 && !throttled_) {
      throttled_ = true;
      ++throttles_;
      child_->signal_group(SIGSTOP);
    } else if (cpu_budget_s_ >= 0 && throttled_) {
      throttled_ = false;
      child_->signal_group(SIGCONT);
    }
  }
  if (u.ok) {
    gov_ticks_ = u.cpu_ticks;
    gov_at_ = now;
  }
  cpu_timer_->arm(std::chrono::milliseconds(100), [this] { governor_tick(); });
}

void PluginRunner::sample_usage() {
  if (!child_) return;
  auto u = read_usage(child_->pid());
  if (!u.ok) return;
  TimePoint now = time_.now();
  if (last_cpu_ticks_ && now > last_cpu_at_) {
    double secs = std::chrono::duration<double>(now - last_cpu_at_).count();
    cpu_pct_ = 100.0 * double(u.cpu_ticks - *last_cpu_ticks_) / double(sysconf(_SC_CLK_TCK)) / secs;
  }
  last_cpu_ticks_ = u.cpu_ticks;
  last_cpu_at_ = now;
  rss_ = u.rss;
  vm_data_ = u.vm_data;
}

void PluginRunner::send_load_current(const char* why) {
  if (!store_ || !conn_ || !ready_) return;
  auto cur = store_->current();
  if (!cur) return;
  load_waiting_ = ++load_seq_;
  loading_version_ = cur->version;
  flush_batch();  // samples before the switch go to the old model
  std::string frames;
  ipc::encode_load_model(frames, ipc::LoadModel{load_waiting_, cur->path});
  write(frames);
  log()->info("plugin {}: loading model {} ({})", config_.name, cur->version, why);
}

Result<ModelInfo> PluginRunner::install_model(const std::string& file, const std::optional<std::string>& signature) {
  if (!store_) return make_error("plugin " + config_.name + " has no model_dir: it takes no models");
  auto info = store_->stage(file, signature, format_wall_time(time_.wall_now()));
  if (!info) {
    emit("model_rejected", "verify", info.error().message);
    return info.error();
  }
  if (auto r = store_->activate(info->version); !r) {
    emit("model_rejected", "switch", r.error().message);
    return r.error();
  }
  probation_version_ = info->version;
  emit("model_installed", "", "version " + info->version + " sha256 " + info->sha256 +
                                  (info->is_signed ? " (signature verified)" : " (unsigned)"));
  auto version = info->version;
  probation_timer_->arm(config_.model_probation, [this, version] {
    if (probation_version_ != version) return;
    probation_version_.reset();
    emit("model_confirmed", "", "version " + version + " survived its probation");
  });
  send_load_current("install");
  return info;
}

void PluginRunner::rollback_auto(const std::string& why) {
  if (!store_) return;
  auto from = store_->current();
  probation_version_.reset();
  probation_timer_->cancel();
  auto r = store_->rollback(/*allow_none=*/true);
  if (!r) {
    log()->error("plugin {}: automatic model rollback failed: {}", config_.name, r.error().message);
    emit("model_rollback_failed", why, r.error().message);
    return;
  }
  std::string to = r->has_value() ? (*r)->version : "none";
  log()->warn("plugin {}: model {} rolled back to {} ({})", config_.name, from ? from->version : "none", to, why);
  emit("model_rolled_back", why, "from " + (from ? from->version : std::string("none")) + " to " + to);
  if (r->has_value()) send_load_current("rollback");
}

Result<std::optional<ModelInfo>> PluginRunner::rollback_model() {
  if (!store_) return make_error("plugin " + config_.name + " has no model_dir: it takes no models");
  auto from = store_->current();
  auto r = store_->rollback(/*allow_none=*/false);
  if (!r) return r.error();
  probation_version_.reset();
  probation_timer_->cancel();
  emit("model_rolled_back", "manual",
       "from " + (from ? from->version : std::string("none")) + " to " + (r->has_value() ? (*r)->version : "none"));
  send_load_current("rollback");
  return r;
}

void PluginRunner::reconfigure(const PluginConfig& c) {
  bool restart_needed = c.path != config_.path || c.user != config_.user || c.config_json != config_.config_json ||
                        c.memory_max != config_.memory_max || c.cpu_max != config_.cpu_max ||
                        c.msg_class != config_.msg_class;
  bool store_changed = c.model_dir != config_.model_dir || c.public_key != config_.public_key;
  config_ = c;
  sup_.set_policy(policy_from(c));
  if (store_changed) {
    store_.reset();
    if (!c.model_dir.empty()) store_.emplace(c.model_dir, c.public_key);
  }
  if (restart_needed && (sup_.state() == State::running || sup_.state() == State::starting)) sup_.restart();
}

nlohmann::json PluginRunner::status() const {
  nlohmann::json j = {
      {"name", config_.name},
      {"path", config_.path},
      {"state", state_name(sup_.state())},
      {"pid", child_ ? nlohmann::json(child_->pid()) : nlohmann::json(nullptr)},
      {"restarts", sup_.restarts()},
      {"failures", sup_.failures()},
      {"alarm", sup_.alarm()},
      {"cpu_pct", cpu_pct()},
      {"memory_bytes", memory_bytes()},
      {"data_bytes", vm_data_},
      {"samples_in", counters_.samples_in},
      {"samples_dropped", counters_.samples_dropped},
      {"samples_pending", pending_.size()},
      {"messages_out", counters_.messages_out},
      {"messages_dropped", counters_.messages_dropped + host_stats_.messages_refused},
      {"plugin_version", plugin_version_},
      {"throttled", throttled_},
      {"throttles", throttles_},
      {"limits", {{"mode", limits_.name()},
                  {"memory_max", config_.memory_max ? nlohmann::json(*config_.memory_max) : nlohmann::json(nullptr)},
                  {"cpu_max", config_.cpu_max ? nlohmann::json(*config_.cpu_max) : nlohmann::json(nullptr)}}},
  };
  j["since"] = sup_.running_since() && started_at_ ? nlohmann::json(format_wall_time(*started_at_)) : nlohmann::json(nullptr);
  if (last_exit_)
    j["last_exit"] = {{"cause", last_exit_->cause}, {"detail", last_exit_->detail}, {"at", last_exit_->at}};
  else
    j["last_exit"] = nullptr;
  nlohmann::json model = nullptr;
  if (store_) {
    auto cur = store_->current();
    auto prev = store_->previous();
    model = {{"version", cur ? nlohmann::json(cur->version) : nlohmann::json(nullptr)},
             {"previous", prev ? nlohmann::json(prev->version) : nlohmann::json(nullptr)},
             {"probation", probation_version_.has_value()},
             {"signed", cur ? nlohmann::json(cur->is_signed) : nlohmann::json(nullptr)}};
  }
  j["model"] = model;
  return j;
}

}  // namespace uplink::plugin
