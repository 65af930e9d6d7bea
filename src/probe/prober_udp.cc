#include "probe/prober_udp.h"

#include "probe/asio_address.h"
#include "probe/probe_operation.h"

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>

namespace uplink::probe {

namespace asio = boost::asio;
using asio::ip::udp;

std::vector<uint8_t> build_dns_query(uint16_t id, const std::string& name) {
  std::vector<uint8_t> q = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    size_t n = std::min<size_t>(dot - start, 63);
    if (n > 0) {
      q.push_back(static_cast<uint8_t>(n));
      q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(start + n));
    }
    start = dot + 1;
  }
  q.push_back(0);
  q.insert(q.end(), {0, 2, 0, 1});  // type NS, class IN
  return q;
}

bool is_dns_response(const uint8_t* r, size_t len, uint16_t id) {
  return len >= 12 && (r[0] << 8 | r[1]) == id && (r[2] & 0x80);
}

namespace {

struct UdpOp : ProbeOperation<udp::socket> {
  explicit UdpOp(asio::io_context& io) : ProbeOperation(io) {}
  std::vector<uint8_t> request;
  std::array<uint8_t, 1500> buf{};
  UdpProber::Mode mode = UdpProber::Mode::echo;
  uint16_t dns_id = 0;
  std::shared_ptr<NeighbourConfirm> confirm;

  bool matches(size_t n) const {
    if (mode == UdpProber::Mode::dns) return is_dns_response(buf.data(), n, dns_id);
    return n == request.size() && std::memcmp(buf.data(), request.data(), n) == 0;
  }
  static void receive(const std::shared_ptr<UdpOp>& op) {
    op->sock.async_receive(asio::buffer(op->buf), [op](const boost::system::error_code& ec, size_t n) {
      if (op->finished) return;
      if (ec) {
        op->error("receive from " + op->peer + ": " + ec.message());
        return;
      }
      if (!op->matches(n)) return receive(op);  // a stray or stale datagram: keep waiting
      op->confirm->on_reply(SteadyClock::now());
      op->ok();
    });
  }
};

}  // namespace

UdpProber::UdpProber(asio::io_context& io, LinkBinding binding, Mode mode, std::string dns_name)
    : io_(io), binding_(std::move(binding)), mode_(mode), dns_name_(std::move(dns_name)), rng_(std::random_device{}()) {}

void UdpProber::probe(const ProbeTarget& target, Duration timeout, std::function<void(ProbeResult)> done) {
  auto op = std::make_shared<UdpOp>(io_);
  op->done = std::move(done);
  op->alive = alive_;
  op->confirm = confirm_;
  op->mode = mode_;
  uint16_t port = target.port ? target.port : (mode_ == Mode::dns ? 53 : 7);
  udp::endpoint ep(to_asio(target.address), port);
  op->peer = target.address.to_string() + ":" + std::to_string(port);
  auto fail = [&](const std::string& what) {
    asio::post(io_, [op, what] { op->error(what); });
  };
  boost::system::error_code ec;
  op->sock.open(ep.protocol(), ec);
  if (ec) return fail("udp socket for " + op->peer + ": " + ec.message());
  if (auto r = bind_to_link(op->sock.native_handle(), binding_); !r) return fail(r.error().message);
  op->sock.connect(ep, ec);
  if (ec) return fail("connect " + op->peer + ": " + ec.message());
  if (mode_ == Mode::dns) {
    op->dns_id = static_cast<uint16_t>(rng_());
    op->request = build_dns_query(op->dns_id, dns_name_);
  } else {
    op->request.resize(16);
    uint64_t nonce = rng_(), ts = static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count());
    std::memcpy(op->request.data(), &nonce, 8);
    std::memcpy(op->request.data() + 8, &ts, 8);
  }
  op->sent = SteadyClock::now();
  op->sock.send(asio::buffer(op->request), static_cast<asio::socket_base::message_flags>(confirm_->send_flags(op->sent)), ec);
  if (ec) return fail("send to " + op->peer + ": " + ec.message());
  bytes_ += op->request.size() + 8 + (target.address.is_v6() ? 40 : 20);
  op->timer.expires_after(timeout);
  op->timer.async_wait([op](const boost::system::error_code& e) {
    if (!e) op->timed_out();
  });
  UdpOp::receive(op);
}

}  // namespace uplink::probe
