#include "tunnel/tunnel_module.h"

#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>

#include "common/log.h"
#include "common/strings.h"
#include "core/topics.h"

namespace uplink {

namespace {
constexpr const char* kOwner = "tunnel";
constexpr const char* kSignalDevice = "tunnel_device";
constexpr const char* kSignalStall = "tunnel_stall";

std::string owner_of(const std::string& tunnel) { return "tunnel:" + tunnel; }

// The address one packet goes to so that the tunnel handshakes now: the link's
// first probe target (inside the tunnel), else the first host of the first
// peer's first allowed prefix.
std::optional<IpAddress> kick_target(const TunnelConfig& t, const LinkConfig* link) {
  if (link && !link->probe.targets.empty()) return link->probe.targets.front().address;
  for (const auto& p : t.peers)
    for (const auto& a : p.allowed_ips) {
      IpAddress x = a.addr;
      int max = x.is_v4() ? 32 : 128;
      if (a.length < max) ++x.bytes[x.byte_len() - 1];  // network + 1
      return x;
    }
  return std::nullopt;
}
}  // namespace

nlohmann::json event_json(const TunnelEvent& e) {
  return nlohmann::json{{"ts", format_wall_time(e.ts)}, {"tunnel", e.tunnel},       {"event", e.event},
                        {"detail", e.detail},            {"underlay_link", e.underlay_link}};
}

struct TunnelModule::Tunnel {
  enum class State { starting, configuring, running, restarting, failed };
  TunnelConfig cfg;
  size_t index = 0;
  std::string link;           // the wireguard link carrying it ("" = none)
  std::optional<IpAddress> kick_to;
  std::optional<WgBackendKind> backend;
  State state = State::starting;
  std::string reason = "starting";
  std::unique_ptr<WgProcess> process;
  std::unique_ptr<WgProcess> dead;  // exited; destroyed outside its own exit callback
  bool adopted = false;
  std::unique_ptr<Timer> timer;       // socket wait, restart backoff
  std::unique_ptr<Timer> poll_timer;  // get=1
  std::unique_ptr<Timer> settle_timer;  // the endpoints re-sent once more after an underlay move
  uint64_t generation = 0;            // bumped on every (re)start: late callbacks of an older run are dropped
  int ifindex = 0;
  std::optional<std::string> active_link;  // nullopt: not known yet
  std::optional<WgDeviceStatus> status;
  int poll_failures = 0;
  int restarts = 0;
  Duration backoff{};
  TimePoint running_since{};
  bool ever_running = false;
  uint64_t underlay_moves = 0;
  // stall evidence
  uint64_t stall_rx = 0, stall_tx = 0;
  TimePoint stall_since{};
  bool stalled = false;

  static std::string_view to_string(State s) {
    switch (s) {
      case State::starting: return "starting";
      case State::configuring: return "configuring";
      case State::running: return "running";
      case State::restarting: return "restarting";
      case State::failed: return "failed";
    }
    return "unknown";
  }
};

TunnelModule::TunnelModule(ModuleContext& ctx, TunnelEnv env) : ctx_(ctx), env_(std::move(env)) {
  subs_.push_back(ctx_.bus.subscribe<PolicyEvent>([this](const PolicyEvent& e) { on_policy(e.policy, e.active); }));
  subs_.push_back(ctx_.bus.subscribe<PolicyActive>([this](const PolicyActive& e) { on_policy(e.policy, e.active); }));
  ctx_.verbs.add(control::Verb{
      .name = "tunnels",
      .usage = "tunnels [--json]",
      .help = "WireGuard tunnels: backend, underlay link, peers, handshake, rx/tx",
      .changes_state = false,
      .fields = {},
      .owner = kOwner,
      .handler = [this](const control::Request&) {
        nlohmann::json r{{"tunnels", tunnels_json()}};
        r["text"] = tunnels_text();
        return control::Reply::success(r);
      }});
}

TunnelModule::~TunnelModule() {
  ctx_.verbs.remove_owner(kOwner);
  for (auto id : subs_) ctx_.bus.unsubscribe(id);
}

Result<void> TunnelModule::apply(const Config& next, const ConfigDiff&) {
  fwmark_mask_ = next.daemon.fwmark_mask;
  rule_priority_base_ = next.daemon.rule_priority_base;
  link_tables_.clear();
  for (const auto& [name, l] : next.links) link_tables_[name] = l.table;
  const auto* section = next.section<TunnelsSection>("tunnels");

  // Removed tunnels, and tunnels whose device must be recreated.
  for (auto it = tunnels_.begin(); it != tunnels_.end();) {
    const TunnelConfig* want = nullptr;
    if (section) {
      auto w = section->tunnels.find(it->first);
      if (w != section->tunnels.end()) want = &w->second;
    }
    if (!want || want->interface != it->second->cfg.interface || want->backend != it->second->cfg.backend) {
      shutdown(*it->second, /*clean=*/true);
      it = tunnels_.erase(it);
    } else {
      ++it;
    }
  }
  if (!section) return {};

  for (size_t i = 0; i < section->order.size(); ++i) {
    const TunnelConfig& tc = section->tunnels.at(section->order[i]);
    const LinkConfig* link = link_of_tunnel(next, tc.name);
    auto it = tunnels_.find(tc.name);
    bool is_new = it == tunnels_.end();
    if (is_new) {
      auto t = std::make_shared<Tunnel>();
      t->timer = ctx_.time.make_timer();
      t->poll_timer = ctx_.time.make_timer();
      t->settle_timer = ctx_.time.make_timer();
      t->backoff = env_.backoff_initial;
      it = tunnels_.emplace(tc.name, t).first;
    }
    Tunnel& t = *it->second;
    bool device_changed = !is_new && tc != t.cfg;
    std::string old_link = t.link;
    t.cfg = tc;
    t.index = i;
    t.link = link ? link->name : "";
    t.kick_to = kick_target(tc, link);
    if (old_link != t.link && !old_link.empty() && ctx_.links.find(old_link))
      ctx_.links.clear_hard_signal(old_link, kSignalDevice);
    if (auto a = policy_active_.find(tc.underlay); a != policy_active_.end())
      t.active_link = a->second.empty() ? "" : a->second.front();
    program(t);
    if (is_new) {
      start(t);
      continue;
    }
    if (device_changed && t.state == Tunnel::State::running) configure(t, /*initial=*/false);  // keys, peers, port, mark
    set_link_signal(t, t.state != Tunnel::State::running, "tunnel_down");
  }
  return {};
}

void TunnelModule::on_policy(const std::string& policy, const std::vector<std::string>& active) {
  policy_active_[policy] = active;
  std::string now = active.empty() ? "" : active.front();
  for (auto& [name, t] : tunnels_) {
    if (t->cfg.underlay != policy) continue;
    if (t->active_link == now) continue;
    std::string from = t->active_link.value_or("");
    t->active_link = now;
    move_underlay(*t, from);
  }
}

void TunnelModule::move_underlay(Tunnel& t, const std::string& from) {
  auto log = get_logger("tunnel");
  // The rule first: the next packet of the tunnel already leaves through the new link.
  program(t);
  ++t.underlay_moves;
  const std::string& to = *t.active_link;
  log->info("tunnel {}: underlay {} -> {} (policy {})", t.cfg.name, from.empty() ? "none" : from,
            to.empty() ? "none" : to, t.cfg.underlay);
  publish(t, "underlay_moved", (from.empty() ? "none" : from) + " -> " + (to.empty() ? "none" : to));
  if (t.state != Tunnel::State::running || to.empty()) return;
  resend_endpoints(t, 1);
}

// Rewriting the endpoint clears the source address (and interface) WireGuard
// cached for the old line; one packet into the tunnel then goes out now. Once
// more `resettle_delay` later: a packet the peer sent to our old address
// before it heard from the new one re-pins that source when it arrives
// (WireGuard roams on receive), and a pinned send ignores the policy rules.
void TunnelModule::resend_endpoints(Tunnel& t, int again) {
  auto spec = t.cfg.device_spec();
  auto req = format_wg_endpoint_update(spec.peers);
  if (!req) {
    get_logger("tunnel")->warn("tunnel {}: endpoint re-send not possible: {}", t.cfg.name, req.error().message);
    return;
  }
  std::weak_ptr<Tunnel> weak = tunnels_.at(t.cfg.name);
  uint64_t gen = t.generation;
  std::string link = t.active_link.value_or("");
  env_.uapi->set(t.cfg.interface, std::move(*req), [this, weak, gen, link, again](Result<void> r) {
    auto tp = weak.lock();
    if (!tp || tp->generation != gen) return;
    if (!r) {
      get_logger("tunnel")->warn("tunnel {}: endpoint re-send failed: {}; the device is checked again at the next poll",
                                 tp->cfg.name, r.error().message);
      return;
    }
    if (tp->kick_to && env_.kick) {
      if (auto k = env_.kick(tp->cfg.interface, *tp->kick_to); !k)
        get_logger("tunnel")->debug("tunnel {}: {}", tp->cfg.name, k.error().message);
    }
    if (again <= 0) return;
    tp->settle_timer->arm(env_.resettle_delay, [this, weak, gen, link, again] {
      auto t2 = weak.lock();
      if (!t2 || t2->generation != gen || t2->active_link.value_or("") != link ||
          t2->state != Tunnel::State::running)
        return;
      resend_endpoints(*t2, again - 1);
    });
  });
}

void TunnelModule::start(Tunnel& t) {
  auto log = get_logger("tunnel");
  t.dead.reset();
  ++t.generation;
  t.poll_timer->cancel();
  t.status.reset();
  t.poll_failures = 0;
  KernelWgProbe probe = env_.kernel_probe ? env_.kernel_probe() : KernelWgProbe{false, "not probed"};
  auto backend = choose_backend(t.cfg.backend, probe);
  if (!backend) {
    t.state = Tunnel::State::failed;
    t.reason = backend.error().message;
    log->error("tunnel {}: {}; the tunnel stays down until the configuration changes", t.cfg.name, t.reason);
    set_link_signal(t, true, "tunnel_down");
    publish(t, "configure_failed", t.reason);
    return;
  }
  if (t.cfg.backend == WgBackendChoice::automatic && !t.backend)
    log->info("tunnel {}: backend auto -> {} ({})", t.cfg.name, to_string(*backend),
              probe.available ? "kernel WireGuard present, not driven by this build" : probe.detail);
  t.backend = *backend;
  set_link_signal(t, true, "tunnel_down");
  // A device of that name already answering: a predecessor's (crash) -> adopt it.
  if (env_.uapi->device_present(t.cfg.interface)) {
    t.adopted = true;
    log->info("tunnel {}: adopting the running wireguard-go of {}", t.cfg.name, t.cfg.interface);
    publish(t, "adopted", t.cfg.interface);
    configure(t, /*initial=*/true);
    return;
  }
  t.adopted = false;
  t.state = Tunnel::State::starting;
  t.reason = "starting";
  std::weak_ptr<Tunnel> weak = tunnels_.at(t.cfg.name);
  uint64_t gen = t.generation;
  auto proc = env_.launcher->start(t.cfg.interface, [this, weak, gen](const std::string& how) {
    auto tp = weak.lock();
    if (!tp || tp->generation != gen) return;
    tp->dead = std::move(tp->process);
    publish(*tp, "wireguard_go_exited", how);
    device_lost(*tp, "wireguard-go " + how);
  });
  if (!proc) {
    log->error("tunnel {}: {}; retrying in {}s", t.cfg.name, proc.error().message,
               std::chrono::duration_cast<std::chrono::seconds>(t.backoff).count());
    t.reason = proc.error().message;
    publish(t, "configure_failed", t.reason);
    t.state = Tunnel::State::restarting;
    schedule_restart(t);
    return;
  }
  t.process = std::move(*proc);
  log->info("tunnel {}: wireguard-go -f {} started (pid {})", t.cfg.name, t.cfg.interface, t.process->pid());
  wait_socket(t, 0);
}

void TunnelModule::wait_socket(Tunnel& t, int round) {
  if (env_.uapi->device_present(t.cfg.interface)) {
    configure(t, /*initial=*/true);
    return;
  }
  if (round >= env_.socket_wait_rounds) {
    t.dead = std::move(t.process);
    device_lost(t, "no UAPI socket for " + t.cfg.interface + " after start");
    return;
  }
  std::weak_ptr<Tunnel> weak = tunnels_.at(t.cfg.name);
  uint64_t gen = t.generation;
  t.timer->arm(env_.socket_wait, [this, weak, gen, round] {
    auto tp = weak.lock();
    if (tp && tp->generation == gen) wait_socket(*tp, round + 1);
  });
}

void TunnelModule::configure(Tunnel& t, bool initial) {
  if (initial) {
    t.state = Tunnel::State::configuring;
    t.reason = "configuring";
  }
  auto req = format_wg_set(t.cfg.device_spec());
  if (!req) {  // the loader checked the keys: only a programming error gets here
    t.state = Tunnel::State::failed;
    t.reason = req.error().message;
    publish(t, "configure_failed", t.reason);
    return;
  }
  std::weak_ptr<Tunnel> weak = tunnels_.at(t.cfg.name);
  uint64_t gen = t.generation;
  env_.uapi->set(t.cfg.interface, std::move(*req), [this, weak, gen, initial](Result<void> r) {
    auto tp = weak.lock();
    if (!tp || tp->generation != gen) return;
    if (!r) {
      publish(*tp, "configure_failed", r.error().message);
      device_lost(*tp, "configuring over UAPI: " + r.error().message);
      return;
    }
    if (initial) {
      bring_up(*tp);
      return;
    }
    // A running device got new settings: addresses may have been added.
    if (env_.netlink && tp->ifindex)
      for (const auto& a : tp->cfg.address)
        if (auto e = env_.netlink->add_address(tp->ifindex, a.prefix()); !e)
          get_logger("tunnel")->warn("tunnel {}: {}", tp->cfg.name, e.error().message);
    publish(*tp, "reconfigured", tp->cfg.interface);
  });
}

int TunnelModule::ifindex_of(const std::string& ifname) const {
  if (!env_.netlink) return 0;
  auto links = env_.netlink->list_links();
  if (!links) return 0;
  for (const auto& l : *links)
    if (l.name == ifname) return l.ifindex;
  return 0;
}

void TunnelModule::bring_up(Tunnel& t) {
  auto log = get_logger("tunnel");
  if (env_.netlink) {
    t.ifindex = ifindex_of(t.cfg.interface);
    if (t.ifindex == 0) {
      device_lost(t, "device " + t.cfg.interface + " not found after configuring it");
      return;
    }
    for (const auto& a : t.cfg.address)
      if (auto r = env_.netlink->add_address(t.ifindex, a.prefix()); !r) {
        device_lost(t, r.error().message);
        return;
      }
    if (auto r = env_.netlink->set_link_up(t.ifindex, true); !r) {
      device_lost(t, r.error().message);
      return;
    }
  }
  bool restored = t.ever_running;
  t.state = Tunnel::State::running;
  t.reason = "running";
  t.ever_running = true;
  t.running_since = ctx_.time.now();
  t.stall_since = ctx_.time.now();
  t.stall_rx = t.stall_tx = 0;
  t.stalled = false;
  program(t);
  set_link_signal(t, false, "");
  log->info("tunnel {}: {} up (backend {}, fwmark 0x{:x}, {} peer(s))", t.cfg.name, t.cfg.interface,
            t.backend ? to_string(*t.backend) : "?", t.cfg.fwmark, t.cfg.peers.size());
  publish(t, restored ? "device_restored" : "started", t.cfg.interface);
  if (t.kick_to && env_.kick && t.active_link && !t.active_link->empty()) (void)env_.kick(t.cfg.interface, *t.kick_to);
  std::weak_ptr<Tunnel> weak = tunnels_.at(t.cfg.name);
  uint64_t gen = t.generation;
  t.poll_timer->arm(env_.poll_interval, [this, weak, gen] {
    auto tp = weak.lock();
    if (tp && tp->generation == gen) poll(*tp);
  });
}

void TunnelModule::poll(Tunnel& t) {
  std::weak_ptr<Tunnel> weak = tunnels_.at(t.cfg.name);
  uint64_t gen = t.generation;
  env_.uapi->get(t.cfg.interface, [this, weak, gen](Result<WgDeviceStatus> r) {
    auto tp = weak.lock();
    if (!tp || tp->generation != gen || tp->state != Tunnel::State::running) return;
    Tunnel& t = *tp;
    if (!r) {
      // One lost answer is not a lost device; two in a row are.
      if (++t.poll_failures >= 2) {
        publish(t, "device_lost", r.error().message);
        t.dead = std::move(t.process);
        device_lost(t, r.error().message);
        return;
      }
    } else {
      t.poll_failures = 0;
      t.status = std::move(*r);
      uint64_t rx = 0, tx = 0;
      int keepalive = 0;
      for (const auto& p : t.status->peers) {
        rx += p.rx_bytes;
        tx += p.tx_bytes;
        if (p.persistent_keepalive_s > 0 && (keepalive == 0 || p.persistent_keepalive_s < keepalive))
          keepalive = p.persistent_keepalive_s;
      }
      TimePoint now = ctx_.time.now();
      if (rx != t.stall_rx) {
        t.stall_rx = rx;
        t.stall_tx = tx;
        t.stall_since = now;
        if (t.stalled) {
          t.stalled = false;
          if (!t.link.empty() && ctx_.links.find(t.link)) ctx_.links.clear_hard_signal(t.link, kSignalStall);
          publish(t, "stall_cleared", "rx flowing again");
        }
      } else if (!t.stalled && keepalive > 0 && tx > t.stall_tx &&
                 now - t.stall_since >= env_.stall_keepalives * std::chrono::seconds(keepalive)) {
        t.stalled = true;
        get_logger("tunnel")->warn("tunnel {}: tx grew by {} bytes with no rx for {} keepalives", t.cfg.name,
                                   tx - t.stall_tx, env_.stall_keepalives);
        if (!t.link.empty() && ctx_.links.find(t.link)) ctx_.links.set_hard_signal(t.link, kSignalStall, "tunnel_stalled");
        publish(t, "stalled", "tx growing, no rx");
      }
    }
    t.poll_timer->arm(env_.poll_interval, [this, weak, gen] {
      auto tp = weak.lock();
      if (tp && tp->generation == gen) poll(*tp);
    });
  });
}

void TunnelModule::device_lost(Tunnel& t, const std::string& why) {
  get_logger("tunnel")->warn("tunnel {}: {}; link {} down, restarting in {}ms", t.cfg.name, why,
                             t.link.empty() ? "-" : t.link,
                             std::chrono::duration_cast<std::chrono::milliseconds>(t.backoff).count());
  ++t.generation;  // drops callbacks of this run
  t.poll_timer->cancel();
  t.state = Tunnel::State::restarting;
  t.reason = why;
  t.ifindex = 0;
  t.status.reset();
  if (t.process) t.dead = std::move(t.process);
  set_link_signal(t, true, "tunnel_down");
  if (t.stalled && !t.link.empty() && ctx_.links.find(t.link)) ctx_.links.clear_hard_signal(t.link, kSignalStall);
  t.stalled = false;
  program(t);  // routes go with the device; the mark's rule stays
  schedule_restart(t);
}

void TunnelModule::schedule_restart(Tunnel& t) {
  // A run that lasted stable_after earns a fresh backoff (systemd's StartLimit idea).
  if (t.ever_running && ctx_.time.now() - t.running_since >= env_.stable_after) t.backoff = env_.backoff_initial;
  Duration wait = t.backoff;
  t.backoff = std::min(t.backoff * 2, env_.backoff_max);
  std::weak_ptr<Tunnel> weak = tunnels_.at(t.cfg.name);
  uint64_t gen = t.generation;
  t.timer->arm(wait, [this, weak, gen] {
    auto tp = weak.lock();
    if (!tp || tp->generation != gen) return;
    ++tp->restarts;
    publish(*tp, "wireguard_go_restarted", "restart " + std::to_string(tp->restarts));
    start(*tp);
  });
}

void TunnelModule::program(Tunnel& t) {
  if (!env_.objects) return;
  OwnedObjects o;
  uint32_t prio = rule_priority_base_ > 100 + t.index ? rule_priority_base_ - 100 + uint32_t(t.index)
                                                       : rule_priority_base_ + 1000 + uint32_t(t.index);
  std::optional<uint32_t> table;
  if (t.active_link && !t.active_link->empty())
    if (auto it = link_tables_.find(*t.active_link); it != link_tables_.end()) table = it->second;
  for (int fam : {AF_INET, AF_INET6}) {
    Rule r;
    r.family = fam;
    r.priority = prio;
    r.fwmark = t.cfg.fwmark;
    r.fwmask = ~fwmark_mask_;
    // No active underlay: the tunnel's UDP goes nowhere rather than through main.
    r.action = table ? RuleAction::lookup : RuleAction::unreachable;
    r.table = table.value_or(0);
    o.rules.push_back(r);
  }
  if (t.ifindex && !t.link.empty()) {
    if (auto it = link_tables_.find(t.link); it != link_tables_.end()) {
      for (const auto& p : t.cfg.peers)
        for (const auto& a : p.allowed_ips) {
          if (a.length == 0) continue;  // the default of the link's table is routing's
          Route r;
          r.family = a.addr.is_v4() ? AF_INET : AF_INET6;
          r.table = it->second;
          r.dst = a;
          r.oif = t.ifindex;
          if (std::find(o.routes.begin(), o.routes.end(), r) == o.routes.end()) o.routes.push_back(r);
        }
    }
  }
  env_.objects->set(owner_of(t.cfg.name), std::move(o));
}

void TunnelModule::set_link_signal(Tunnel& t, bool down, const std::string& reason) {
  if (t.link.empty() || !ctx_.links.find(t.link)) return;
  if (down) ctx_.links.set_hard_signal(t.link, kSignalDevice, reason.empty() ? "tunnel_down" : reason);
  else ctx_.links.clear_hard_signal(t.link, kSignalDevice);
}

void TunnelModule::publish(Tunnel& t, const std::string& event, const std::string& detail) {
  ctx_.bus.publish(TunnelEvent{ctx_.time.wall_now(), t.cfg.name, event, detail, t.active_link.value_or("")});
}

void TunnelModule::shutdown(Tunnel& t, bool clean) {
  ++t.generation;
  t.timer->cancel();
  t.poll_timer->cancel();
  t.settle_timer->cancel();
  if (t.process) {
    if (clean) t.process->terminate();
    t.process.reset();
  } else if (t.adopted && clean && env_.adopted_pid) {
    // A predecessor's wireguard-go we adopted is ours to stop.
    if (auto pid = env_.adopted_pid(t.cfg.interface)) ::kill(*pid, SIGTERM);
  }
  t.dead.reset();
  if (env_.objects) env_.objects->release(owner_of(t.cfg.name));
  if (!t.link.empty() && ctx_.links.find(t.link)) {
    ctx_.links.clear_hard_signal(t.link, kSignalStall);
  }
  t.state = Tunnel::State::failed;
  t.reason = "stopped";
  publish(t, "stopped", t.cfg.interface);
}

void TunnelModule::stop() {
  for (auto& [name, t] : tunnels_) shutdown(*t, /*clean=*/true);
  tunnels_.clear();
}

nlohmann::json TunnelModule::tunnels_json() const {
  auto arr = nlohmann::json::array();
  for (const auto& [name, tp] : tunnels_) {
    const Tunnel& t = *tp;
    nlohmann::json j{{"name", name},
                     {"interface", t.cfg.interface},
                     {"backend", t.backend ? std::string(to_string(*t.backend)) : std::string("none")},
                     {"backend_setting", std::string(to_string(t.cfg.backend))},
                     {"state", std::string(Tunnel::to_string(t.state))},
                     {"reason", t.reason},
                     {"link", t.link},
                     {"fwmark", t.cfg.fwmark},
                     {"adopted", t.adopted},
                     {"pid", t.process ? nlohmann::json(t.process->pid()) : nlohmann::json(nullptr)},
                     {"restarts", t.restarts},
                     {"stalled", t.stalled},
                     {"underlay", {{"policy", t.cfg.underlay},
                                   {"active_link", t.active_link ? nlohmann::json(*t.active_link) : nlohmann::json(nullptr)},
                                   {"moves", t.underlay_moves}}}};
    auto peers = nlohmann::json::array();
    for (const auto& p : t.cfg.peers) {
      nlohmann::json pj{{"public_key", p.public_key},
                        {"endpoint", p.endpoint ? nlohmann::json(p.endpoint->to_string()) : nlohmann::json(nullptr)},
                        {"last_handshake", nullptr},
                        {"rx_bytes", 0},
                        {"tx_bytes", 0}};
      if (t.status)
        for (const auto& s : t.status->peers)
          if (s.public_key == p.public_key) {
            if (s.endpoint) pj["endpoint"] = s.endpoint->to_string();
            if (s.last_handshake_sec > 0)
              pj["last_handshake"] = format_wall_time(WallTime(std::chrono::seconds(s.last_handshake_sec)));
            pj["rx_bytes"] = s.rx_bytes;
            pj["tx_bytes"] = s.tx_bytes;
          }
      peers.push_back(pj);
    }
    j["peers"] = peers;
    arr.push_back(j);
  }
  return arr;
}

std::string TunnelModule::tunnels_text() const {
  if (tunnels_.empty()) return "no tunnels configured\n";
  std::string out;
  for (const auto& j : tunnels_json()) {
    const auto& u = j["underlay"];
    out += j["name"].get<std::string>() + "  " + j["interface"].get<std::string>() + "  " +
           j["state"].get<std::string>() + "  backend " + j["backend"].get<std::string>() + "  underlay " +
           u["policy"].get<std::string>() + " via " +
           (u["active_link"].is_string() && !u["active_link"].get<std::string>().empty()
                ? u["active_link"].get<std::string>()
                : std::string("-")) +
           "  restarts " + std::to_string(j["restarts"].get<int>()) + "\n";
    if (j["state"] != "running") out += "  reason: " + j["reason"].get<std::string>() + "\n";
    for (const auto& p : j["peers"]) {
      out += "  peer " + p["public_key"].get<std::string>() + "  endpoint " +
             (p["endpoint"].is_string() ? p["endpoint"].get<std::string>() : std::string("-")) + "  handshake " +
             (p["last_handshake"].is_string() ? p["last_handshake"].get<std::string>() : std::string("never")) +
             "  rx " + std::to_string(p["rx_bytes"].get<uint64_t>()) + "  tx " +
             std::to_string(p["tx_bytes"].get<uint64_t>()) + "\n";
    }
  }
  return out;
}

void TunnelModule::add_status(nlohmann::json& status) const { status["tunnels"] = tunnels_json(); }

void TunnelModule::add_metrics(std::string& text) const {
  if (tunnels_.empty()) return;
  std::string up = "# HELP uplinkd_tunnel_up 1 when the tunnel device is configured and running.\n"
                   "# TYPE uplinkd_tunnel_up gauge\n";
  std::string restarts = "# HELP uplinkd_tunnel_restarts_total wireguard-go (re)starts after a failure.\n"
                         "# TYPE uplinkd_tunnel_restarts_total counter\n";
  std::string moves = "# HELP uplinkd_tunnel_underlay_moves_total Underlay link changes followed.\n"
                      "# TYPE uplinkd_tunnel_underlay_moves_total counter\n";
  std::string rx = "# HELP uplinkd_tunnel_rx_bytes Bytes received from the tunnel's peers.\n"
                   "# TYPE uplinkd_tunnel_rx_bytes gauge\n";
  std::string tx = "# HELP uplinkd_tunnel_tx_bytes Bytes sent to the tunnel's peers.\n"
                   "# TYPE uplinkd_tunnel_tx_bytes gauge\n";
  std::string hs = "# HELP uplinkd_tunnel_last_handshake_seconds Unix time of the latest handshake of any peer (0 = never).\n"
                   "# TYPE uplinkd_tunnel_last_handshake_seconds gauge\n";
  for (const auto& [name, t] : tunnels_) {
    std::string l = "{tunnel=\"" + prometheus_label(name) + "\"}";
    uint64_t r = 0, x = 0;
    int64_t h = 0;
    if (t->status)
      for (const auto& p : t->status->peers) {
        r += p.rx_bytes;
        x += p.tx_bytes;
        h = std::max(h, p.last_handshake_sec);
      }
    up += "uplinkd_tunnel_up" + l + (t->state == Tunnel::State::running ? " 1\n" : " 0\n");
    restarts += "uplinkd_tunnel_restarts_total" + l + " " + std::to_string(t->restarts) + "\n";
    moves += "uplinkd_tunnel_underlay_moves_total" + l + " " + std::to_string(t->underlay_moves) + "\n";
    rx += "uplinkd_tunnel_rx_bytes" + l + " " + std::to_string(r) + "\n";
    tx += "uplinkd_tunnel_tx_bytes" + l + " " + std::to_string(x) + "\n";
    hs += "uplinkd_tunnel_last_handshake_seconds" + l + " " + std::to_string(h) + "\n";
  }
  text += up + restarts + moves + rx + tx + hs;
}

namespace {
// The real backends, owned beside the module.
struct RealTunnelModule final : Module {
  RealTunnelModule(ModuleContext& ctx, boost::asio::io_context& io)
      : uapi(io), launcher(make_wireguard_go_launcher(io)), inner(ctx, env(ctx)) {}
  TunnelEnv env(ModuleContext& ctx) {
    TunnelEnv e;
    e.uapi = &uapi;
    e.launcher = launcher.get();
    e.netlink = ctx.services.find<Netlink>();
    e.objects = ctx.services.find<KernelObjects>();
    e.kernel_probe = probe_kernel_wireguard;
    e.kick = kick_tunnel;
    e.adopted_pid = [](const std::string& ifname) {
      return uapi_peer_pid(wg_socket_path(kWgSocketDir, ifname));
    };
    return e;
  }
  std::string_view name() const override { return inner.name(); }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override { return inner.apply(next, diff); }
  void stop() override { inner.stop(); }
  void add_status(nlohmann::json& s) const override { inner.add_status(s); }
  void add_metrics(std::string& t) const override { inner.add_metrics(t); }

  AsioUapiClient uapi;
  std::unique_ptr<WgLauncher> launcher;
  TunnelModule inner;
};
}  // namespace

std::unique_ptr<Module> make_tunnel_module(ModuleContext& ctx) {
  return std::make_unique<RealTunnelModule>(ctx, ctx.services.get<boost::asio::io_context>());
}

}  // namespace uplink
