// udp-sink [--port 9]: counts datagrams per source address. Prints JSON on
// SIGUSR1 (and keeps counting) and on SIGINT/SIGTERM (then exits):
//   {"port":9,"sources":{"198.18.1.2":{"packets":N,"bytes":B,"first_ns":T,"last_ns":T}}}
// Times are CLOCK_MONOTONIC of the receive. Lets failover tests see which line
// carried a flow (the ISPs do not NAT, so the source names the line).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "sockaddr_util.h"

using namespace uplink::labtools;

namespace {

struct Source {
  uint64_t packets = 0, bytes = 0;
  int64_t first_ns = 0, last_ns = 0;
};

void dump(uint16_t port, const std::map<std::string, Source>& sources) {
  std::string out = "{\"port\":" + std::to_string(port) + ",\"sources\":{";
  bool first = true;
  for (const auto& [addr, s] : sources) {
    if (!first) out += ",";
    first = false;
    out += "\"" + addr + "\":{\"packets\":" + std::to_string(s.packets) + ",\"bytes\":" + std::to_string(s.bytes) +
           ",\"first_ns\":" + std::to_string(s.first_ns) + ",\"last_ns\":" + std::to_string(s.last_ns) + "}";
  }
  out += "}}\n";
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  uint16_t port = 9;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--port") port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
  }
  int sfd = report_signal_fd();
  int fd = bind_udp_any(port);
  if (fd < 0 || sfd < 0) {
    std::fprintf(stderr, "udp-sink: cannot bind port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::map<std::string, Source> sources;
  char buf[65536];
  pollfd fds[2] = {{fd, POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return 1;
    if (fds[1].revents & POLLIN) {
      if (int sig = read_signal(sfd)) {
        dump(port, sources);
        if (sig != SIGUSR1) return 0;
      }
    }
    if (!(fds[0].revents & POLLIN)) continue;
    for (;;) {
      sockaddr_storage from{};
      socklen_t fl = sizeof(from);
      ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 0) break;
      int64_t now = mono_ns();
      Source& s = sources[addr_text(from)];
      if (!s.packets) s.first_ns = now;
      ++s.packets;
      s.bytes += static_cast<uint64_t>(n);
      s.last_ns = now;
    }
  }
}
