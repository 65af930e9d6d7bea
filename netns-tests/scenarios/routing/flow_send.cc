// flow-send --target ADDR [--port 9] [--flows 1] [--flow-id-base 0] [--src-port-base 0]
//           [--packets-per-flow 0] [--rate 1000] [--duration-ms 0] [--size 64] [--bind ADDR]
// Sends numbered, timestamped datagrams (flow_wire.h) for flow-recv.
//   One long flow (the default): --rate packets/s until --duration-ms or SIGTERM/SIGINT.
//   Many flows: --flows N --packets-per-flow K, one after another, each from its own
//   socket (source port --src-port-base + i, or an ephemeral port when 0), so each
//   is a new conntrack entry that the router classifies afresh.
// Sockets are unconnected (sendto): every datagram gets its own route lookup, and
// a failing lookup (no route) is counted, not fatal.
// Prints {"flows":N,"sent":S,"errors":E,"last_error":"...","secs":T} at the end.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "flow_wire.h"
#include "sockaddr_util.h"

using namespace uplink::labtools;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

struct Options {
  std::string target, bind_addr;
  uint16_t port = 9;
  uint32_t flows = 1, flow_id_base = 0;
  uint32_t src_port_base = 0;
  uint64_t packets_per_flow = 0, rate = 1000, duration_ms = 0, size = 64;
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    uint64_t n = std::strtoull(v.c_str(), nullptr, 10);
    if (a == "--target") o.target = v;
    else if (a == "--bind") o.bind_addr = v;
    else if (a == "--port") o.port = static_cast<uint16_t>(n);
    else if (a == "--flows") o.flows = static_cast<uint32_t>(n);
    else if (a == "--flow-id-base") o.flow_id_base = static_cast<uint32_t>(n);
    else if (a == "--src-port-base") o.src_port_base = static_cast<uint32_t>(n);
    else if (a == "--packets-per-flow") o.packets_per_flow = n;
    else if (a == "--rate") o.rate = n;
    else if (a == "--duration-ms") o.duration_ms = n;
    else if (a == "--size") o.size = n;
    else {
      std::fprintf(stderr, "flow-send: unknown option %s\n", a.c_str());
      return false;
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "flow-send: option %s needs a value\n", argv[argc - 1]);
    return false;
  }
  if (o.target.empty()) {
    std::fprintf(stderr, "flow-send: --target is required\n");
    return false;
  }
  if (o.src_port_base && o.src_port_base + o.flows > 65536) {
    std::fprintf(stderr, "flow-send: --src-port-base + --flows exceeds 65535\n");
    return false;
  }
  if (o.size < sizeof(FlowHeader)) o.size = sizeof(FlowHeader);
  return true;
}

// A UDP socket of the target's family, bound to --bind and/or a fixed port; -1 with errno.
int open_socket(const Options& o, int family, uint16_t src_port) {
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!o.bind_addr.empty() || src_port) {
    sockaddr_storage src{};
    socklen_t slen = 0;
    std::string addr = o.bind_addr.empty() ? (family == AF_INET ? "0.0.0.0" : "::") : o.bind_addr;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (!make_sockaddr(addr, src_port, src, slen) || bind(fd, reinterpret_cast<sockaddr*>(&src), slen) < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) return 2;
  sockaddr_storage dst;
  socklen_t dlen;
  if (!make_sockaddr(o.target, o.port, dst, dlen)) {
    std::fprintf(stderr, "flow-send: --target %s is not a numeric address\n", o.target.c_str());
    return 2;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;  // no SA_RESTART: the pacing sleep returns at once
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  std::vector<char> buf(o.size, 'f');
  const int64_t gap_ns = o.rate ? static_cast<int64_t>(1000000000ULL / o.rate) : 0;
  const int64_t start = mono_ns();
  const int64_t end = o.duration_ms ? start + static_cast<int64_t>(o.duration_ms) * 1000000 : INT64_MAX;
  uint64_t sent = 0, errors = 0;
  uint32_t flows_started = 0;
  std::string last_error;
  int64_t due = start;
  for (uint32_t f = 0; f < o.flows && !g_stop && mono_ns() < end; ++f) {
    uint16_t src_port = o.src_port_base ? static_cast<uint16_t>(o.src_port_base + f) : 0;
    int fd = open_socket(o, dst.ss_family, src_port);
    if (fd < 0) {
      std::fprintf(stderr, "flow-send: cannot open/bind the socket of flow %u: %s\n", o.flow_id_base + f,
                   std::strerror(errno));
      return 1;
    }
    ++flows_started;
    FlowHeader h;
    h.flow_id = o.flow_id_base + f;
    for (uint64_t seq = 0; (!o.packets_per_flow || seq < o.packets_per_flow) && !g_stop; ++seq) {
      if (gap_ns) {
        timespec ts{due / 1000000000, due % 1000000000};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
        due += gap_ns;
        if (g_stop) break;
      }
      if (mono_ns() >= end) {
        g_stop = 1;
        break;
      }
      h.seq = seq;
      h.sent_realtime_ns = realtime_ns();
      std::memcpy(buf.data(), &h, sizeof(h));
      if (sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&dst), dlen) >= 0) {
        ++sent;
      } else {
        ++errors;
        last_error = std::strerror(errno);
      }
    }
    close(fd);
  }
  std::printf("{\"flows\":%u,\"sent\":%llu,\"errors\":%llu,\"last_error\":\"%s\",\"secs\":%.3f}\n", flows_started,
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(errors), last_error.c_str(),
              (mono_ns() - start) / 1e9);
  return 0;
}
