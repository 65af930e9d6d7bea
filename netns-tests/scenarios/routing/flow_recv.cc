// flow-recv [--port 9]: receives flow-send datagrams and records, per flow, the
// runs of consecutive packets that arrived from the same source address
// ("segments"). The ISPs do not NAT, so the source names the line that carried
// a packet: a failover is one flow with segments 198.18.1.2 -> 198.18.2.2.
// Prints JSON on SIGUSR1 (and keeps going) and on SIGINT/SIGTERM (then exits):
//   {"port":P,"packets":N,"foreign":F,
//    "flows":{"ID":{"packets":n,"max_gap_ns":g,"gap_from_ns":t,"gap_to_ns":t,"segments":[{"src":"198.18.1.2","packets":n,
//             "first_seq":s,"last_seq":s,"first_ns":t,"last_ns":t}]}},
//    "by_source":{"198.18.1.2":{"packets":n,"flows":f}}}     flows: counted by their first source
// Times are the kernel's CLOCK_REALTIME receive stamps (SO_TIMESTAMPNS), so
// they compare with uplinkd's event timestamps.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flow_wire.h"
#include "sockaddr_util.h"

using namespace uplink::labtools;

namespace {

struct Segment {
  std::string src;
  uint64_t packets = 0, first_seq = 0, last_seq = 0;
  int64_t first_ns = 0, last_ns = 0;
};

struct Flow {
  uint64_t packets = 0;
  int64_t max_gap_ns = 0;
  int64_t gap_from_ns = 0, gap_to_ns = 0;  // the longest gap: last packet before it, first after it
  std::vector<Segment> segments;
};

struct Totals {
  uint64_t packets = 0, foreign = 0;
  std::map<uint32_t, Flow> flows;
};

void record(Totals& t, const FlowHeader& h, const std::string& src, int64_t now) {
  Flow& f = t.flows[h.flow_id];
  if (f.segments.empty() || f.segments.back().src != src) {
    f.segments.push_back(Segment{src, 0, h.seq, h.seq, now, now});
  }
  Segment& s = f.segments.back();
  if (f.packets) {
    int64_t last = s.packets ? s.last_ns : f.segments[f.segments.size() - 2].last_ns;
    if (now - last > f.max_gap_ns) {
      f.max_gap_ns = now - last;
      f.gap_from_ns = last;
      f.gap_to_ns = now;
    }
  }
  ++f.packets;
  ++s.packets;
  s.last_seq = h.seq;
  s.last_ns = now;
  ++t.packets;
}

void dump(uint16_t port, const Totals& t) {
  nlohmann::json flows = nlohmann::json::object(), by_source = nlohmann::json::object();
  for (const auto& [id, f] : t.flows) {
    nlohmann::json segs = nlohmann::json::array();
    for (const auto& s : f.segments) {
      segs.push_back({{"src", s.src}, {"packets", s.packets}, {"first_seq", s.first_seq}, {"last_seq", s.last_seq},
                      {"first_ns", s.first_ns}, {"last_ns", s.last_ns}});
      auto& src = by_source[s.src];
      if (src.is_null()) src = {{"packets", uint64_t{0}}, {"flows", 0}};
      src["packets"] = src["packets"].get<uint64_t>() + s.packets;
    }
    auto& first = by_source[f.segments.front().src];
    first["flows"] = first["flows"].get<int>() + 1;
    flows[std::to_string(id)] = {{"packets", f.packets},         {"max_gap_ns", f.max_gap_ns},
                                 {"gap_from_ns", f.gap_from_ns},  {"gap_to_ns", f.gap_to_ns},
                                 {"segments", segs}};
  }
  nlohmann::json out = {{"port", port},   {"packets", t.packets}, {"foreign", t.foreign},
                        {"flows", flows}, {"by_source", by_source}};
  std::fputs((out.dump() + "\n").c_str(), stdout);
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
  int one = 1;
  if (fd < 0 || sfd < 0 || setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
    std::fprintf(stderr, "flow-recv: cannot bind port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  Totals totals;
  char buf[65536];
  char control[256];
  pollfd fds[2] = {{fd, POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return 1;
    // Datagrams first: a SIGTERM right after the last packet still counts it.
    if (fds[0].revents & POLLIN) {
      for (;;) {
        sockaddr_storage from{};
        iovec iov{buf, sizeof(buf)};
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof(from);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0) break;
        int64_t now = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            now = static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
          }
        }
        if (!now) {
          timespec ts;
          clock_gettime(CLOCK_REALTIME, &ts);
          now = static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
        }
        FlowHeader h;
        if (read_flow_header(buf, static_cast<size_t>(n), h)) record(totals, h, addr_text(from), now);
        else ++totals.foreign;
      }
    }
    if (fds[1].revents & POLLIN) {
      if (int sig = read_signal(sfd)) {
        dump(port, totals);
        if (sig != SIGUSR1) return 0;
      }
    }
  }
}
