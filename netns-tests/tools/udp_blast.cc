// udp-blast --target ADDR [--port 9] [--rate-kbit R] [--size B] [--duration-ms D] [--bind SRC]
// Sends fixed-size datagrams at R kbit/s of UDP payload (0 = as fast as the
// socket takes them) for D ms; prints {"sent":N,"bytes":B,"secs":S}. Pair it
// with udp-sink to measure what a line carries.
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sockaddr_util.h"

using namespace uplink::labtools;

int main(int argc, char** argv) {
  std::string target, bind_addr;
  uint16_t port = 9;
  uint64_t rate_kbit = 1000, size = 1000, duration_ms = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--target") target = v;
    else if (a == "--port") port = static_cast<uint16_t>(std::atoi(v.c_str()));
    else if (a == "--rate-kbit") rate_kbit = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--size") size = std::max<uint64_t>(16, std::strtoull(v.c_str(), nullptr, 10));
    else if (a == "--duration-ms") duration_ms = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--bind") bind_addr = v;
    else { std::fprintf(stderr, "udp-blast: unknown option %s\n", a.c_str()); return 2; }
  }
  sockaddr_storage dst;
  socklen_t dlen;
  if (target.empty() || !make_sockaddr(target, port, dst, dlen)) {
    std::fprintf(stderr, "udp-blast: --target must be a numeric address\n");
    return 2;
  }
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  int fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (!bind_addr.empty()) {
    sockaddr_storage src;
    socklen_t slen;
    if (!make_sockaddr(bind_addr, 0, src, slen) || bind(fd, reinterpret_cast<sockaddr*>(&src), slen) < 0) {
      std::fprintf(stderr, "udp-blast: cannot bind %s: %s\n", bind_addr.c_str(), std::strerror(errno));
      return 1;
    }
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), dlen) < 0) {
    std::fprintf(stderr, "udp-blast: no route to %s: %s\n", target.c_str(), std::strerror(errno));
    return 1;
  }
  std::vector<char> payload(size, 'u');
  const int64_t gap_ns = rate_kbit ? static_cast<int64_t>(size * 8 * 1000000 / rate_kbit) : 0;
  const int64_t start = mono_ns(), end = start + static_cast<int64_t>(duration_ms) * 1000000;
  uint64_t sent = 0, bytes = 0;
  for (int64_t due = start; mono_ns() < end; due += gap_ns) {
    if (gap_ns) {
      timespec ts{due / 1000000000, due % 1000000000};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    }
    if (send(fd, payload.data(), payload.size(), 0) > 0) {
      ++sent;
      bytes += size;
    }
  }
  std::printf("{\"sent\":%llu,\"bytes\":%llu,\"secs\":%.3f}\n", static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(bytes), (mono_ns() - start) / 1e9);
  return 0;
}
