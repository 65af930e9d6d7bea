// udp-echo [--port 7]: sends every datagram back to where it came from, from
// the address it was sent to (core has several addresses on lo; a reply from
// another address would not match the prober's socket). Runs in the lab's core
// and private namespaces as the reflector for UDP probes and tests.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sockaddr_util.h"

namespace {

int open_socket(int family, uint16_t port) {
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    len = sizeof(*a);
  } else {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    len = sizeof(*a);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) return -1;
  return fd;
}

void echo_one(int fd) {
  char buf[65536];
  char control[256];
  sockaddr_storage from{};
  iovec iov{buf, sizeof(buf)};
  msghdr m{};
  m.msg_name = &from;
  m.msg_namelen = sizeof(from);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);
  if (n < 0) return;
  // Reply with the same pktinfo: the kernel then uses the request's destination as source.
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      auto* pi = reinterpret_cast<in_pktinfo*>(CMSG_DATA(c));
      pi->ipi_spec_dst = pi->ipi_addr;
      pi->ipi_ifindex = 0;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      reinterpret_cast<in6_pktinfo*>(CMSG_DATA(c))->ipi6_ifindex = 0;
    }
  }
  iov.iov_len = static_cast<size_t>(n);
  m.msg_flags = 0;
  (void)sendmsg(fd, &m, 0);
}

}  // namespace

int main(int argc, char** argv) {
  uint16_t port = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--port") port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
  }
  int v4 = open_socket(AF_INET, port), v6 = open_socket(AF_INET6, port);
  if (v4 < 0 || v6 < 0) {
    std::fprintf(stderr, "udp-echo: cannot bind port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  pollfd fds[2] = {{v4, POLLIN, 0}, {v6, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "udp-echo: poll failed: %s\n", std::strerror(errno));
      return 1;
    }
    for (auto& f : fds) {
      if (f.revents & POLLIN) echo_one(f.fd);
    }
  }
}
