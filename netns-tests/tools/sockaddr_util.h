#pragma once
// Shared by the small lab tools: numeric IPv4/IPv6 address parsing and
// printing, a dual-stack UDP socket, and the signals that ask for a report.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

namespace uplink::labtools {

// addr:port into sockaddr_storage; IPv4 and IPv6 text forms; false if not numeric.
inline bool make_sockaddr(const std::string& addr, uint16_t port, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof(out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// Address only; IPv4-mapped IPv6 is printed as IPv4.
inline std::string addr_text(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
  } else {
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) inet_ntop(AF_INET, &a6->s6_addr[12], buf, sizeof(buf));
    else inet_ntop(AF_INET6, a6, buf, sizeof(buf));
  }
  return buf;
}

inline int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// A dual-stack UDP socket bound to [::]:port (IPv4 arrives as v4-mapped).
inline int bind_udp_any(uint16_t port) {
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int zero = 0, one = 1;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_any;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) return -1;
  return fd;
}

// SIGUSR1 (report), SIGINT and SIGTERM (report and exit) blocked and read
// through a signalfd, so a poll() loop sees them next to its sockets.
inline int report_signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_CLOEXEC);
}

// The signal read from a report_signal_fd(): 0 if none.
inline int read_signal(int sfd) {
  signalfd_siginfo si;
  return read(sfd, &si, sizeof(si)) == sizeof(si) ? static_cast<int>(si.ssi_signo) : 0;
}

}  // namespace uplink::labtools
