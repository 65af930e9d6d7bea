// udp-probe --target ADDR [--port 7] [--count N] [--interval-us U] [--size B]
//           [--bind SRC] [--wait-ms W] [--rtts]
// Sends a numbered train to a udp-echo and reports, as one JSON object, what
// came back: counts, loss, RTT statistics, reordering, and a loss pattern
// ('.' answered, 'x' lost) so tests can see bursts. Sends are paced on
// absolute deadlines (ppoll, 1 ns timer slack), so a 1 ms interval is 1 ms.
// An RTT ends at the kernel's receive timestamp (SO_TIMESTAMPNS), not when
// this process got to read the echo: on a busy machine the time the prober
// waits for a CPU is not the line's delay.
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sockaddr_util.h"

using namespace uplink::labtools;

namespace {

struct Payload {
  uint64_t magic;
  uint64_t seq;
  int64_t sent_ns;
};
constexpr uint64_t kMagic = 0x75706c696e6b7072ULL;  // "uplinkpr"

// When the kernel received the datagram, on the monotonic clock: now minus
// how long it waited in the socket (the stamp is CLOCK_REALTIME). Now if unstamped.
int64_t received_ns(msghdr& msg) {
  int64_t now = mono_ns();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp, wall;
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t waited = (static_cast<int64_t>(wall.tv_sec) - stamp.tv_sec) * 1000000000LL + (wall.tv_nsec - stamp.tv_nsec);
    if (waited >= 0 && waited < 10000000000LL) return now - waited;
  }
  return now;
}

void drain(int fd, std::vector<int64_t>& rtt, uint64_t& reordered, uint64_t& highest) {
  char buf[65536];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  for (;;) {
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < static_cast<ssize_t>(sizeof(Payload))) return;
    Payload p;
    std::memcpy(&p, buf, sizeof(p));
    if (p.magic != kMagic || p.seq >= rtt.size() || rtt[p.seq] >= 0) continue;
    rtt[p.seq] = received_ns(msg) - p.sent_ns;
    if (p.seq + 1 < highest) ++reordered;
    highest = std::max(highest, p.seq + 1);
  }
}

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::min<double>(v.size() - 1, std::floor(q * (v.size() - 1) + 0.5)));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, bind_addr;
  uint16_t port = 7;
  uint64_t count = 10, interval_us = 10000, size = 64, wait_ms = 1000;
  bool print_rtts = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rtts") { print_rtts = true; continue; }
    if (i + 1 >= argc) { std::fprintf(stderr, "udp-probe: %s needs a value\n", a.c_str()); return 2; }
    std::string v = argv[++i];
    if (a == "--target") target = v;
    else if (a == "--port") port = static_cast<uint16_t>(std::atoi(v.c_str()));
    else if (a == "--count") count = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--interval-us") interval_us = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--size") size = std::max<uint64_t>(sizeof(Payload), std::strtoull(v.c_str(), nullptr, 10));
    else if (a == "--bind") bind_addr = v;
    else if (a == "--wait-ms") wait_ms = std::strtoull(v.c_str(), nullptr, 10);
    else { std::fprintf(stderr, "udp-probe: unknown option %s\n", a.c_str()); return 2; }
  }
  sockaddr_storage dst;
  socklen_t dlen;
  if (target.empty() || !make_sockaddr(target, port, dst, dlen)) {
    std::fprintf(stderr, "udp-probe: --target must be a numeric address\n");
    return 2;
  }
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  int fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
  if (!bind_addr.empty()) {
    sockaddr_storage src;
    socklen_t slen;
    if (!make_sockaddr(bind_addr, 0, src, slen) || bind(fd, reinterpret_cast<sockaddr*>(&src), slen) < 0) {
      std::fprintf(stderr, "udp-probe: cannot bind %s: %s\n", bind_addr.c_str(), std::strerror(errno));
      return 1;
    }
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), dlen) < 0) {
    std::fprintf(stderr, "udp-probe: no route to %s: %s\n", target.c_str(), std::strerror(errno));
    return 1;
  }
  std::vector<int64_t> rtt(count, -1);
  std::vector<char> out(size, 0);
  uint64_t reordered = 0, highest = 0, send_errors = 0;
  int64_t start = mono_ns();
  for (uint64_t seq = 0; seq < count; ++seq) {
    // Wait for the send time in ppoll on the socket, so echoes are stamped as
    // they arrive rather than at the next send.
    int64_t due = start + static_cast<int64_t>(seq * interval_us * 1000);
    for (int64_t left; (left = due - mono_ns()) > 0;) {
      pollfd pf{fd, POLLIN, 0};
      timespec ts{left / 1000000000, left % 1000000000};
      if (ppoll(&pf, 1, &ts, nullptr) > 0) drain(fd, rtt, reordered, highest);
    }
    Payload p{kMagic, seq, mono_ns()};
    std::memcpy(out.data(), &p, sizeof(p));
    if (send(fd, out.data(), out.size(), 0) < 0) ++send_errors;  // e.g. ENETUNREACH: counts as lost
    drain(fd, rtt, reordered, highest);
  }
  int64_t deadline = mono_ns() + static_cast<int64_t>(wait_ms) * 1000000;
  for (;;) {
    if (std::all_of(rtt.begin(), rtt.end(), [](int64_t r) { return r >= 0; })) break;
    int64_t left = deadline - mono_ns();
    if (left <= 0) break;
    pollfd pf{fd, POLLIN, 0};
    poll(&pf, 1, static_cast<int>(std::max<int64_t>(1, left / 1000000)));
    drain(fd, rtt, reordered, highest);
  }

  std::vector<double> ms;
  std::string pattern;
  for (int64_t r : rtt) {
    pattern += r >= 0 ? '.' : 'x';
    if (r >= 0) ms.push_back(r / 1e6);
  }
  double sum = 0, sq = 0;
  for (double v : ms) sum += v;
  double avg = ms.empty() ? 0 : sum / ms.size();
  for (double v : ms) sq += (v - avg) * (v - avg);
  double sd = ms.size() > 1 ? std::sqrt(sq / (ms.size() - 1)) : 0;
  std::printf(
      "{\"sent\":%llu,\"received\":%zu,\"send_errors\":%llu,\"loss_pct\":%.3f,\"reordered\":%llu,"
      "\"rtt_ms\":{\"min\":%.3f,\"avg\":%.3f,\"max\":%.3f,\"p50\":%.3f,\"p95\":%.3f,\"sd\":%.3f},\"pattern\":\"%s\"",
      static_cast<unsigned long long>(count), ms.size(), static_cast<unsigned long long>(send_errors),
      count ? 100.0 * (count - ms.size()) / count : 0.0, static_cast<unsigned long long>(reordered),
      ms.empty() ? 0 : *std::min_element(ms.begin(), ms.end()), avg,
      ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()), pct(ms, 0.5), pct(ms, 0.95), sd, pattern.c_str());
  if (print_rtts) {
    std::printf(",\"rtts\":[");
    for (size_t i = 0; i < rtt.size(); ++i) std::printf("%s%.3f", i ? "," : "", rtt[i] >= 0 ? rtt[i] / 1e6 : -1.0);
    std::printf("]");
  }
  std::printf("}\n");
  return 0;
}
