// linkemu: a userspace access line between two interfaces.
//   linkemu --a IF --b IF --control PATH [--seed N] [--log-level L]
//   linkemu ctl PATH COMMAND...          (see command.h)
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "common/log.h"
#include "linkemu/control_server.h"
#include "linkemu/direction.h"
#include "linkemu/frame_port.h"

using namespace uplink;
using namespace uplink::linkemu;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: linkemu --a IF --b IF --control PATH [--seed N] [--log-level L]\n"
               "       linkemu ctl PATH set [dir=a2b|b2a|both] delay=50ms jitter=5ms loss=1 burst=4 rate=2000 "
               "queue=30000 blackhole=1 reorder=0\n"
               "       linkemu ctl PATH clear|flush [dir=...] | show\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "ctl") {
    if (argc < 4) return usage();
    std::string req;
    for (int i = 3; i < argc; ++i) req += (i > 3 ? " " : "") + std::string(argv[i]);
    return control_client(argv[2], req);
  }
  std::string a, b, control, level = "info";
  uint64_t seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    std::string val = argv[++i];
    if (arg == "--a") a = val;
    else if (arg == "--b") b = val;
    else if (arg == "--control") control = val;
    else if (arg == "--seed") seed = std::strtoull(val.c_str(), nullptr, 10);
    else if (arg == "--log-level") level = val;
    else return usage();
  }
  if (a.empty() || b.empty() || control.empty()) return usage();
  if (!set_log_level(level)) return usage();
  auto log = get_logger("linkemu");

  auto pa = open_packet_socket(a);
  auto pb = open_packet_socket(b);
  if (!pa.ok() || !pb.ok()) {
    log->error("{}; linkemu exits", !pa.ok() ? pa.error().message : pb.error().message);
    return 1;
  }
  Direction a2b("a2b", **pa, **pb, seed);
  Direction b2a("b2a", **pb, **pa, seed ^ 0x9e3779b97f4a7c15ULL);
  // Signals are routed to the control loop's signalfd; block them before the
  // direction threads start so those inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (Direction* d : {&a2b, &b2a}) {
    if (auto r = d->start(); !r.ok()) {
      log->error("{}; linkemu exits", r.error().message);
      return 1;
    }
  }
  log->info("forwarding {} <-> {}, control {}", a, b, control);
  auto r = serve_control(control, a2b, b2a);
  a2b.stop();
  b2a.stop();
  if (!r.ok()) {
    log->error("{}; linkemu exits", r.error().message);
    return 1;
  }
  return 0;
}
