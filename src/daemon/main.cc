// uplinkd: wiring only. The real implementations of every seam meet here.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <tuple>

#include "common/clock.h"
#include "common/log.h"
#include "config/loader.h"
#include "control/metrics_http.h"
#include "control/peer.h"
#include "control/server.h"
#include "daemon/control_handler.h"
#include "daemon/daemon.h"
#include "daemon/modules.h"
#include "daemon/notifier.h"
#include "daemon/views.h"
#include "net/conntrack_flusher.h"
#include "net/kernel_objects.h"
#include "net/libnftables.h"
#include "net/libnl_monitor.h"
#include "net/libnl_netlink.h"
#include "net/nft_monitor.h"
#include "probe/prober_factory.h"

namespace uplink {
namespace {

int check_config(const std::string& file) {
  register_module_configs();
  try {
    load_config_file(file);
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << file << ": " << e.what() << "\n";
    return 1;
  }
  std::cout << file << ": ok\n";
  return 0;
}

// Whether the effective capability set holds `cap` (linux/capability.h numbering).
bool has_capability(int cap) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    std::istringstream hex(line.substr(7));
    unsigned long long mask = 0;
    hex >> std::hex >> mask;
    return (mask >> cap) & 1ULL;
  }
  return false;
}

std::string status_line(const Daemon& d) {
  size_t disabled = 0;
  for (const auto& [n, rt] : d.links()) disabled += rt.state == LinkState::disabled ? 1 : 0;
  return std::to_string(d.links().size()) + " links (" + std::to_string(disabled) + " disabled), " +
         std::to_string(d.config().policies.size()) + " policies";
}

int run_daemon(const std::string& file, const std::optional<std::string>& log_level) {
  auto log = get_logger("daemon");
  if (log_level) set_log_level(*log_level);
  register_module_configs();
  Config config;
  try {
    config = load_config_file(file);
  } catch (const ConfigError& e) {
    log->critical("{}; not starting", e.what());
    return 1;
  }

  // One malloc arena: the only other thread (conntrack flushes) allocates
  // little, and a second arena would keep its own pages.
  ::mallopt(M_ARENA_MAX, 1);
  boost::asio::io_context io;
  // Installed first: a SIGTERM during start-up is queued, not fatal.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-reply is an error code, not a death
  AsioTimeSource time(io);

  // The kernel handles. Without them uplinkd could only pretend: refuse to start.
  constexpr int kCapNetAdmin = 12, kCapNetRaw = 13;
  if (!has_capability(kCapNetAdmin) || !has_capability(kCapNetRaw)) {
    log->critical("uplinkd needs CAP_NET_ADMIN (routes, rules, nftables, conntrack) and CAP_NET_RAW (icmp probes); "
                  "run it as root; not starting");
    return 1;
  }
  auto netlink = LibnlNetlink::open();
  if (!netlink) {
    log->critical("cannot open rtnetlink: {}; not starting", netlink.error().message);
    return 1;
  }
  auto nft = LibNftables::open();
  if (!nft) {
    log->critical("cannot open nftables: {}; not starting", nft.error().message);
    return 1;
  }
  // Flushes run on a worker thread: routing never waits for conntrack.
  auto conntrack = AsyncConntrackFlusher::open(io.get_executor());
  if (!conntrack) {
    log->critical("cannot open conntrack (nf_conntrack_netlink): {}; not starting", conntrack.error().message);
    return 1;
  }
  LibnlMonitor netlink_events(io);
  LibmnlNftMonitor nft_events(io);
  KernelObjects kernel_objects;
  probe::RealProberFactory probers(io);

  Daemon daemon(time, std::move(config), log_level);
  // What modules may ask for (core/module.h); each takes only what it uses.
  Services& services = daemon.services();
  services.provide(io);
  services.provide<Netlink>(**netlink);
  services.provide<NetlinkMonitor>(netlink_events);
  services.provide<Nftables>(**nft);
  services.provide<Conntrack>(**conntrack);
  services.provide<NftChangeMonitor>(nft_events);
  services.provide(kernel_objects);
  services.provide<probe::ProberFactory>(probers);
  ModuleContext& ctx = daemon.context();
  for (const auto& spec : builtin_modules()) daemon.add_module(spec.create(ctx));
  // The socket is bound once; moving it needs a restart (said, not ignored).
  daemon.add_guard([](const Config& cur, const Config& next, const ConfigDiff&) -> Result<void> {
    const DaemonConfig &c = cur.daemon, &n = next.daemon;
    if (n.socket != c.socket || n.socket_group != c.socket_group || n.admin_group != c.admin_group)
      return make_error("daemon.socket, daemon.socket_group and daemon.admin_group cannot change while uplinkd runs "
                        "(listening on " + c.socket + "); restart uplinkd to apply them");
    if (n.metrics_listen != c.metrics_listen)
      return make_error("daemon.metrics_listen cannot change while uplinkd runs (now '" + c.metrics_listen +
                        "'); restart uplinkd to apply it");
    return {};
  });
  std::optional<gid_t> group, admin_group;
  for (auto [name, key, out] : {std::tuple{&daemon.config().daemon.socket_group, "daemon.socket_group", &group},
                                std::tuple{&daemon.config().daemon.admin_group, "daemon.admin_group", &admin_group}}) {
    if (name->empty()) continue;
    auto g = control::lookup_group(*name, key);
    if (!g) {
      log->critical("{}; not starting", g.error().message);
      return 1;
    }
    *out = *g;
  }
  // Without socket_group the socket file belongs to our primary group:
  // members of it pass the file mode, so they pass the credential check too
  // (as readers: changes need root or daemon.admin_group).
  control::GroupPeerPolicy peers(::geteuid(), group ? *group : ::getegid(), admin_group);
  ControlHandler handler(daemon);
  control::ServerOptions opts;
  opts.path = daemon.config().daemon.socket;
  // The socket file's group: socket_group, else admin_group (a reader must
  // pass the file mode before its credentials are checked).
  opts.group = group ? group : admin_group;
  opts.verbs = &daemon.verbs();
  control::ControlServer server(io, time, handler, peers, opts);
  handler.set_metrics_extra([&server] {
    return "# HELP uplink_control_connections Open control-socket connections.\n"
           "# TYPE uplink_control_connections gauge\n"
           "uplink_control_connections " + std::to_string(server.connections()) + "\n";
  });
  daemon.events().subscribe_stream([&server](const StreamRecord& r) { server.publish(r.json); });
  // The control socket first: it is also the single-instance lock (a live
  // socket means another uplinkd runs here), so a second instance never
  // touches the kernel state the first one programs.
  if (auto r = server.start(); !r) {
    log->critical("{}; not starting", r.error().message);
    return 1;
  }
  // The optional scrape endpoint: bound before the kernel is touched, so a
  // port in use stops the start with nothing programmed.
  std::unique_ptr<control::MetricsHttpServer> metrics_http;
  if (const std::string& listen = daemon.config().daemon.metrics_listen; !listen.empty()) {
    control::MetricsHttpOptions mo;
    mo.listen = *IpEndpoint::parse(listen);  // the loader checked it
    metrics_http = std::make_unique<control::MetricsHttpServer>(io, time, [&] { return handler.metrics(); }, mo);
    if (auto r = metrics_http->start(); !r) {
      log->critical("{}; not starting", r.error().message);
      server.stop();
      return 1;
    }
  }
  if (auto r = daemon.start(); !r) {
    log->critical("start failed: {}; not starting", r.error().message);
    if (metrics_http) metrics_http->stop();
    server.stop();
    daemon.stop();  // whatever a module did program is removed again
    return 1;
  }

  ServiceNotifier notifier(time);
  std::function<void()> wait_signal;
  wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        log->info("SIGHUP: reloading {}", daemon.config_path());
        notifier.reloading();
        auto r = daemon.reload();  // logs its own result
        notifier.ready(r ? status_line(daemon) : "reload failed: " + r.error().message);
        wait_signal();
        return;
      }
      log->info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      notifier.stopping();
      if (metrics_http) metrics_http->stop();
      server.stop();
      daemon.stop();
      io.stop();
    });
  };
  wait_signal();

  // Start-up (config parsing, nft's parser and cache, the first netlink dumps)
  // frees more than steady state ever uses again, and glibc keeps it: hand it
  // back to the kernel shortly after start and then once a minute (~1 ms).
  auto heap_trim = time.make_timer();
  std::function<void()> trim_heap = [&] {
    ::malloc_trim(0);
    heap_trim->arm(std::chrono::seconds(60), trim_heap);
  };
  heap_trim->arm(std::chrono::seconds(5), trim_heap);

  notifier.ready(status_line(daemon));
  log->info("uplinkd {} running (pid {}), control socket {}", UPLINK_VERSION, ::getpid(), opts.path);
  io.run();
  log->info("stopped");
  return 0;
}

}  // namespace
}  // namespace uplink

int main(int argc, char** argv) {
  CLI::App app{"uplinkd: multi-WAN failover controller"};
  app.footer(
      "Signals: SIGHUP re-reads the file and applies it atomically (a bad file is refused, the\n"
      "running state stays); SIGTERM/SIGINT stop: uplinkd's routes, rules and nftables table go,\n"
      "except the private-traffic guard with daemon.fail_closed = true.\n"
      "Under systemd (Type=notify): READY=1 once the control socket listens; WATCHDOG=1 from the\n"
      "event loop every WatchdogSec/2, so a stuck loop is restarted and a busy one is not.\n"
      "Files: /etc/uplinkd/uplinkd.toml (packaged configuration), daemon.socket\n"
      "(/run/uplinkd/control.sock, for uplinkctl), daemon.state_dir (/var/lib/uplinkd).\n"
      "Exit status: 0 stopped cleanly / file ok; 1 bad configuration or cannot start; 2 usage.");
  std::string config_file, check_file, log_level;
  bool version = false;
  auto* cfg = app.add_option("--config", config_file, "configuration file (TOML)");
  auto* chk = app.add_option("--check-config", check_file, "validate FILE and exit: 'FILE: ok' or FILE:LINE:COL: message");
  app.add_option("--log-level", log_level, "trace | debug | info | warn | error | critical | off (overrides daemon.log_level)")
      ->check([](const std::string& l) { return uplink::is_valid_log_level(l) ? "" : "unknown log level '" + l + "'"; });
  app.add_flag("--version", version, "print the version and exit");
  cfg->excludes(chk);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (version) {
    std::cout << "uplinkd " << UPLINK_VERSION << "\n";
    return 0;
  }
  if (!check_file.empty()) return uplink::check_config(check_file);
  if (config_file.empty()) {
    std::cerr << "uplinkd: --config FILE is required (or --check-config FILE, --version)\n";
    return 2;
  }
  return uplink::run_daemon(config_file, log_level.empty() ? std::nullopt : std::optional<std::string>(log_level));
}
