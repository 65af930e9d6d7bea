#include "probe/prober_icmp.h"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace uplink::probe {

namespace {

constexpr size_t kKeepTimedOut = 256;

sockaddr_storage to_sockaddr(const IpAddress& a, socklen_t* len) {
  sockaddr_storage ss{};
  if (a.is_v4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    std::memcpy(&s->sin_addr, a.bytes.data(), 4);
    *len = sizeof(sockaddr_in);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    std::memcpy(&s->sin6_addr, a.bytes.data(), 16);
    *len = sizeof(sockaddr_in6);
  }
  return ss;
}

IpAddress from_sockaddr(const sockaddr_storage& ss) {
  IpAddress a;
  if (ss.ss_family == AF_INET) {
    a.family = AF_INET;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    a.family = AF_INET6;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, 16);
  }
  return a;
}

// When the kernel received the datagram whose control data is in `msg`, on the
// steady clock: now minus how long it waited in the socket (SO_TIMESTAMPNS
// stamps CLOCK_REALTIME). Without a stamp, or an implausible one (a wall-clock
// step), now.
TimePoint kernel_receive_time(const msghdr& msg, TimePoint now) {
  for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&msg)); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp;
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    auto waited = std::chrono::seconds(wall.tv_sec - stamp.tv_sec) + std::chrono::nanoseconds(wall.tv_nsec - stamp.tv_nsec);
    if (waited < Duration::zero() || waited > std::chrono::seconds(10)) return now;
    return now - waited;
  }
  return now;
}

}  // namespace

IcmpProber::IcmpProber(boost::asio::io_context& io, LinkBinding binding)
    : io_(io), binding_(std::move(binding)), rng_(std::random_device{}()),
      id_(static_cast<uint16_t>(rng_())) {}

IcmpProber::~IcmpProber() {
  *alive_ = false;
  for (auto& f : fam_)
    if (f.sock) f.sock->close();
}

void IcmpProber::reset() {
  for (auto& f : fam_) {
    if (f.sock) f.sock->close();
    f.sock.reset();
  }
}

Result<void> IcmpProber::open(bool v6) {
  Family& f = fam_[v6];
  if (f.sock && f.sock->is_open()) return {};
  int proto = v6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return make_error(errno_text(std::string("raw ICMP") + (v6 ? "v6" : "") + " socket", errno));
  if (auto r = bind_to_link(fd, binding_); !r) {
    ::close(fd);
    return r.error();
  }
  // Kernel receive timestamps: an RTT that does not include our own scheduling delay.
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  if (v6) {
    // Only echo replies reach us: less work for the io_context.
    icmp6_filter filt;
    ICMP6_FILTER_SETBLOCKALL(&filt);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filt);
    setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filt, sizeof filt);
  }
  f.sock = std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd);
  receive(v6);
  return {};
}

void IcmpProber::receive(bool v6) {
  auto* sock = fam_[v6].sock.get();
  sock->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [this, v6, sock, alive = alive_](const boost::system::error_code& ec) {
                     if (!*alive || ec || fam_[v6].sock.get() != sock) return;
                     drain(v6);
                     if (*alive && fam_[v6].sock.get() == sock && sock->is_open()) receive(v6);
                   });
}

void IcmpProber::drain(bool v6) {
  auto* sock = fam_[v6].sock.get();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  uint8_t buf[1500];
  for (int i = 0; i < 64 && sock && sock->is_open(); ++i) {  // bounded, then yield to the loop
    sockaddr_storage from{};
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(sock->native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) break;
    auto alive = alive_;
    on_packet(v6, buf, static_cast<size_t>(n), from_sockaddr(from), kernel_receive_time(msg, SteadyClock::now()));
    if (!*alive || fam_[v6].sock.get() != sock) break;  // a callback closed or replaced the socket
  }
}

void IcmpProber::on_packet(bool v6, const uint8_t* data, size_t len, const IpAddress& from, TimePoint received) {
  auto key = parse_echo_reply(v6, data, len);
  if (!key || key->id != id_) return;
  auto it = pending_.find(key->seq);
  if (it != pending_.end()) {
    if (it->second.nonce != key->nonce || it->second.target.address != from) return;
    confirm_.on_reply(SteadyClock::now());
    Duration rtt = received - it->second.sent;
    if (rtt > it->second.timeout) {
      // Read only now (its timer is due: see probe()), but it came after the
      // timeout: a timeout, then a late reply, as if read at once.
      auto target = it->second.target;
      auto alive = alive_;
      finish(key->seq, ProbeResult{ProbeOutcome::timeout, {}, {}});
      if (!*alive) return;  // the callback may end this prober
      for (auto& [seq, p] : timed_out_)
        if (seq == key->seq) p.nonce = 0;
      if (on_late_) on_late_(target, rtt);
      return;
    }
    finish(key->seq, ProbeResult{ProbeOutcome::reply, rtt, {}});
    return;
  }
  for (auto& [seq, p] : timed_out_) {
    if (seq == key->seq && p.nonce == key->nonce && p.target.address == from) {
      p.nonce = 0;  // a duplicate is not another late reply
      confirm_.on_reply(SteadyClock::now());
      if (on_late_) on_late_(p.target, received - p.sent);
      return;
    }
  }
}

void IcmpProber::complete(std::function<void(ProbeResult)> done, ProbeResult r) {
  boost::asio::post(io_, [alive = alive_, done = std::move(done), r = std::move(r)] {
    if (*alive) done(r);
  });
}

void IcmpProber::finish(uint16_t seq, ProbeResult r) {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  p.timer->cancel();
  auto done = std::move(p.done);
  if (r.outcome == ProbeOutcome::timeout) {
    timed_out_.emplace_back(seq, std::move(p));
    if (timed_out_.size() > kKeepTimedOut) timed_out_.pop_front();
  }
  done(std::move(r));
}

void IcmpProber::probe(const ProbeTarget& target, Duration timeout, std::function<void(ProbeResult)> done) {
  bool v6 = target.address.is_v6();
  if (auto r = open(v6); !r) {
    complete(std::move(done), ProbeResult{ProbeOutcome::error, {}, r.error().message});
    return;
  }
  uint16_t seq = ++seq_;
  while (pending_.count(seq)) seq = ++seq_;
  uint64_t nonce = rng_() | 1;  // never 0: 0 marks a consumed late entry
  TimePoint now = SteadyClock::now();
  auto pkt = build_echo_request(v6, EchoKey{id_, seq, nonce},
                                static_cast<uint64_t>(now.time_since_epoch().count()));
  socklen_t alen = 0;
  sockaddr_storage to = to_sockaddr(target.address, &alen);
  ssize_t n = ::sendto(fam_[v6].sock->native_handle(), pkt.data(), pkt.size(), confirm_.send_flags(now),
                       reinterpret_cast<sockaddr*>(&to), alen);
  if (n < 0) {
    complete(std::move(done), ProbeResult{ProbeOutcome::error, {}, errno_text("sendto " + target.address.to_string(), errno)});
    return;
  }
  bytes_ += pkt.size() + (v6 ? 40 : 20);
  Pending p{target, nonce, now, timeout, std::make_unique<boost::asio::steady_timer>(io_, timeout), std::move(done)};
  p.timer->async_wait([this, seq, v6, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive || ec) return;
    // The daemon may wake late (a busy CPU): a reply the kernel already holds
    // is read before the probe is called lost (it finishes the probe itself).
    if (fam_[v6].sock) drain(v6);
    if (*alive) finish(seq, ProbeResult{ProbeOutcome::timeout, {}, {}});
  });
  pending_.emplace(seq, std::move(p));
}

}  // namespace uplink::probe
