// uplink_node: the uplink module alone on the daemon's seams, for scenario
// tests and benchmarks that need a process holding the queue (kill -9,
// restarts) without the whole daemon and its kernel state.
//
//   uplink_node CONFIG.toml     runs until SIGTERM/SIGINT; "ready" on stdout once applied
//   uplink_node CONFIG.toml --status   prints `queue --json` once a second on stdout (debugging)
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <string>

#include "common/clock.h"
#include "common/log.h"
#include "config/loader.h"
#include "config/section.h"
#include "control/verbs.h"
#include "core/event_bus.h"
#include "core/link_table.h"
#include "core/module.h"
#include "uplink/uplink_module.h"

using namespace uplink;

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CONFIG.toml [--status]\n", argv[0]);
    return 2;
  }
  bool status = argc > 2 && std::string(argv[2]) == "--status";
  SectionRegistry registry;
  register_uplink_config(registry);
  Config config;
  try {
    config = load_config_file(argv[1], registry);
  } catch (const ConfigError& e) {
    fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  if (const char* lvl = getenv("UPLINK_LOG_LEVEL")) set_log_level(lvl);
  boost::asio::io_context io;
  AsioTimeSource time(io);
  EventBus bus;
  LinkTable links(time, bus);
  control::VerbRegistry verbs;
  Services services;
  services.provide(io);
  ModuleContext ctx{time, bus, links, verbs, services};
  UplinkModule module(ctx);
  auto r = module.apply(config, ConfigDiff{});
  if (!r.ok()) {
    fprintf(stderr, "uplink_node: %s\n", r.error().message.c_str());
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) {
    module.stop();
    io.stop();
  });
  auto tick = time.make_timer();
  std::function<void()> print = [&] {
    printf("%s\n", module.queue_json().dump().c_str());
    fflush(stdout);
    tick->arm(std::chrono::seconds(1), print);
  };
  if (status) tick->arm(std::chrono::seconds(1), print);
  io.run();
  return 0;
}
