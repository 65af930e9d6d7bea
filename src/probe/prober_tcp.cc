#include "probe/prober_tcp.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "probe/asio_address.h"
#include "probe/probe_operation.h"

namespace uplink::probe {

namespace asio = boost::asio;
using asio::ip::tcp;

std::optional<int> parse_http_status(const std::string& head) {
  size_t eol = head.find("\r\n");
  if (eol == std::string::npos) return std::nullopt;
  std::string line = head.substr(0, eol);
  if (line.rfind("HTTP/", 0) != 0) return std::nullopt;
  size_t sp = line.find(' ');
  if (sp == std::string::npos || line.size() < sp + 4) return std::nullopt;
  int code = 0;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
    code = code * 10 + (line[i] - '0');
  }
  return code;
}

namespace {

constexpr size_t kMaxHead = 1024;

struct TcpOp : ProbeOperation<tcp::socket> {
  explicit TcpOp(asio::io_context& io) : ProbeOperation(io) {}
  TcpProber::Mode mode = TcpProber::Mode::connect;
  std::string request, head;
  std::array<char, 512> buf{};

  static void read(const std::shared_ptr<TcpOp>& op) {
    op->sock.async_read_some(asio::buffer(op->buf), [op](const boost::system::error_code& ec, size_t n) {
      if (op->finished) return;
      op->head.append(op->buf.data(), n);
      if (auto code = parse_http_status(op->head)) {
        if (*code < 500) return op->ok();
        return op->error("http " + op->peer + ": status " + std::to_string(*code));
      }
      if (ec) return op->error("http " + op->peer + ": " + ec.message() + " before a status line");
      if (op->head.size() >= kMaxHead) return op->error("http " + op->peer + ": no status line in 1 KiB");
      read(op);
    });
  }
};

}  // namespace

TcpProber::TcpProber(asio::io_context& io, LinkBinding binding, Mode mode, std::string http_path)
    : io_(io), binding_(std::move(binding)), mode_(mode), http_path_(std::move(http_path)) {}

void TcpProber::probe(const ProbeTarget& target, Duration timeout, std::function<void(ProbeResult)> done) {
  auto op = std::make_shared<TcpOp>(io_);
  op->done = std::move(done);
  op->alive = alive_;
  op->mode = mode_;
  uint16_t port = target.port ? target.port : 80;
  tcp::endpoint ep(to_asio(target.address), port);
  op->peer = (target.address.is_v6() ? "[" + target.address.to_string() + "]" : target.address.to_string()) + ":" +
             std::to_string(port);
  boost::system::error_code ec;
  op->sock.open(ep.protocol(), ec);
  if (ec) {
    asio::post(io_, [op, m = ec.message()] { op->error("tcp socket for " + op->peer + ": " + m); });
    return;
  }
  if (auto r = bind_to_link(op->sock.native_handle(), binding_); !r) {
    asio::post(io_, [op, m = r.error().message] { op->error(m); });
    return;
  }
  bool v6 = target.address.is_v6();
  size_t ip = v6 ? 40 : 20;
  bytes_ += (ip + 40) + 2 * (ip + 32);  // SYN with options, ACK, FIN (RST: less)
  if (mode_ == Mode::http) {
    std::string host = v6 ? "[" + target.address.to_string() + "]" : target.address.to_string();
    op->request = "GET " + http_path_ + " HTTP/1.0\r\nHost: " + host + "\r\nUser-Agent: uplinkd\r\n\r\n";
    bytes_ += op->request.size() + ip + 32;
  }
  op->sent = SteadyClock::now();
  op->timer.expires_after(timeout);
  op->timer.async_wait([op](const boost::system::error_code& e) {
    if (!e) op->timed_out();
  });
  op->sock.async_connect(ep, [op](const boost::system::error_code& e) {
    if (op->finished) return;
    if (op->mode == Mode::connect) {
      // A RST is an answer from the target: the path works.
      if (!e || e == asio::error::connection_refused) return op->ok();
      return op->error("connect " + op->peer + ": " + e.message());
    }
    if (e) return op->error("connect " + op->peer + ": " + e.message());
    asio::async_write(op->sock, asio::buffer(op->request), [op](const boost::system::error_code& w, size_t) {
      if (op->finished) return;
      if (w) return op->error("http " + op->peer + ": " + w.message());
      TcpOp::read(op);
    });
  });
}

}  // namespace uplink::probe
