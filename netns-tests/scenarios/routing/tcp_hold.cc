// tcp-hold: one long-lived TCP connection whose health is measured.
//   tcp-hold serve --port P
//       echoes every connection; on SIGUSR1 (continue) / SIGTERM (exit) prints
//       {"conns":[{"peer":"198.18.2.2:40000","bytes":N,"open":true,"error":""}]}
//       (the peer address names the line that carries the connection).
//   tcp-hold connect --target A --port P [--interval-ms 20] [--duration-ms 0]
//       connects (3 s timeout), sends a 32-byte message every interval and reads
//       the echo; on SIGUSR1 (continue) / SIGTERM or the end of --duration-ms prints
//       {"connected":true,"local":"...","sent":N,"echoed":M,"max_echo_gap_ms":G,"error":""}
//       error is "" while the connection is healthy, else what broke it
//       ("Connection reset by peer", "eof", ...); the client then stops sending.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sockaddr_util.h"

using namespace uplink::labtools;

namespace {

constexpr size_t kMessage = 32;

std::string endpoint(const sockaddr_storage& ss) {
  uint16_t port = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port)
                                          : ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return addr_text(ss) + ":" + std::to_string(port);
}

void print(const nlohmann::json& j) {
  std::fputs((j.dump() + "\n").c_str(), stdout);
  std::fflush(stdout);
}

struct Conn {
  int fd;
  std::string peer;
  uint64_t bytes = 0;
  bool open = true;
  std::string error;
};

int serve(uint16_t port) {
  int sfd = report_signal_fd();
  int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int zero = 0, one = 1;
  setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_any;
  if (sfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0 || listen(lfd, 16) < 0) {
    std::fprintf(stderr, "tcp-hold serve: cannot listen on port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::vector<Conn> conns;
  auto report = [&] {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : conns)
      list.push_back({{"peer", c.peer}, {"bytes", c.bytes}, {"open", c.open}, {"error", c.error}});
    print({{"conns", list}});
  };
  char buf[4096];
  for (;;) {
    std::vector<pollfd> fds = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
    for (const auto& c : conns) fds.push_back({c.open ? c.fd : -1, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return 1;
    if (fds[0].revents & POLLIN) {
      int sig = read_signal(sfd);
      if (sig) report();
      if (sig && sig != SIGUSR1) return 0;
    }
    if (fds[1].revents & POLLIN) {
      sockaddr_storage from{};
      socklen_t fl = sizeof(from);
      int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&from), &fl, SOCK_CLOEXEC);
      if (fd >= 0) conns.push_back(Conn{fd, endpoint(from), 0, true, ""});
    }
    for (size_t i = 0; i + 2 < fds.size(); ++i) {
      Conn& c = conns[i];
      if (!c.open || !(fds[i + 2].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      ssize_t n = read(c.fd, buf, sizeof(buf));
      if (n > 0 && write(c.fd, buf, static_cast<size_t>(n)) == n) {
        c.bytes += static_cast<uint64_t>(n);
        continue;
      }
      c.error = n == 0 ? "eof" : std::strerror(errno);
      c.open = false;
      close(c.fd);
    }
  }
}

int connect_and_hold(const std::string& target, uint16_t port, int interval_ms, int64_t duration_ms) {
  int sfd = report_signal_fd();
  sockaddr_storage dst;
  socklen_t dlen;
  if (sfd < 0 || !make_sockaddr(target, port, dst, dlen)) {
    std::fprintf(stderr, "tcp-hold connect: --target must be a numeric address\n");
    return 2;
  }
  nlohmann::json out = {{"connected", false}, {"local", ""},           {"sent", 0},
                        {"echoed", 0},        {"max_echo_gap_ms", 0.0}, {"error", ""}};
  int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), dlen) < 0 && errno != EINPROGRESS) {
    out["error"] = std::string("connect: ") + std::strerror(errno);
    print(out);
    return 1;
  }
  pollfd pc{fd, POLLOUT, 0};
  int err = 0;
  socklen_t el = sizeof(err);
  if (poll(&pc, 1, 3000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
    out["error"] = std::string("connect: ") + (err ? std::strerror(err) : "timed out after 3 s");
    print(out);
    return 1;
  }
  sockaddr_storage local{};
  socklen_t ll = sizeof(local);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll);
  out["connected"] = true;
  out["local"] = endpoint(local);

  uint64_t sent = 0, echoed_bytes = 0;
  const int64_t start = mono_ns();
  int64_t last_echo = start, max_gap = 0, next_send = start;
  const int64_t end = duration_ms ? start + duration_ms * 1000000 : INT64_MAX;
  char msg[kMessage], buf[4096];
  std::memset(msg, 'h', sizeof(msg));
  auto snapshot = [&] {
    out["sent"] = sent;
    out["echoed"] = echoed_bytes / kMessage;
    out["max_echo_gap_ms"] = static_cast<double>(std::max(max_gap, out["error"] == "" ? mono_ns() - last_echo : 0)) / 1e6;
    return out;
  };
  while (mono_ns() < end) {
    int64_t now = mono_ns();
    bool healthy = out["error"] == "";
    if (healthy && now >= next_send) {
      if (write(fd, msg, sizeof(msg)) == static_cast<ssize_t>(sizeof(msg))) ++sent;
      else if (errno != EAGAIN) out["error"] = std::strerror(errno);
      next_send += static_cast<int64_t>(interval_ms) * 1000000;
    }
    pollfd fds[2] = {{sfd, POLLIN, 0}, {healthy ? fd : -1, POLLIN, 0}};
    int wait_ms = static_cast<int>(std::max<int64_t>(0, (next_send - mono_ns()) / 1000000));
    if (poll(fds, 2, std::min(wait_ms, interval_ms)) < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      int sig = read_signal(sfd);
      if (sig) print(snapshot());
      if (sig && sig != SIGUSR1) return 0;
    }
    if (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n > 0) {
        int64_t t = mono_ns();
        max_gap = std::max(max_gap, t - last_echo);
        last_echo = t;
        echoed_bytes += static_cast<uint64_t>(n);
      } else if (n == 0 || errno != EAGAIN) {
        out["error"] = n == 0 ? "eof" : std::strerror(errno);
      }
    }
  }
  print(snapshot());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tcp-hold serve --port P | connect --target A --port P [--interval-ms 20] "
                         "[--duration-ms 0]\n");
    return 2;
  }
  std::string mode = argv[1], target;
  uint16_t port = 0;
  int interval_ms = 20;
  int64_t duration_ms = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--port") port = static_cast<uint16_t>(std::atoi(v.c_str()));
    else if (a == "--target") target = v;
    else if (a == "--interval-ms") interval_ms = std::max(1, std::atoi(v.c_str()));
    else if (a == "--duration-ms") duration_ms = std::atoll(v.c_str());
    else {
      std::fprintf(stderr, "tcp-hold: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (!port) {
    std::fprintf(stderr, "tcp-hold: --port is required\n");
    return 2;
  }
  if (mode == "serve") return serve(port);
  if (mode == "connect") return connect_and_hold(target, port, interval_ms, duration_ms);
  std::fprintf(stderr, "tcp-hold: unknown mode %s (serve | connect)\n", mode.c_str());
  return 2;
}
