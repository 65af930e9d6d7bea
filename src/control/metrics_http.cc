#include "control/metrics_http.h"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/write.hpp>

#include "common/log.h"

namespace uplink::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = get_logger("control");
  return l;
}

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string reply(std::string_view status, std::string_view content_type, const std::string& body, bool head_only,
                  std::string_view extra_headers = {}) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra_headers;
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

// Where the request head ends (just past its blank line), or npos.
size_t head_end(std::string_view buf) {
  for (size_t i = buf.find('\n'); i != std::string_view::npos; i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

}  // namespace

Result<HttpRequestLine> parse_http_request_head(std::string_view head) {
  if (head.size() > kMaxHttpHeadBytes) return make_error("request head too large");
  auto eol = head.find('\n');
  if (eol == std::string_view::npos) return make_error("no request line");
  std::string_view line = head.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return make_error("malformed request line");
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  for (char c : method)
    if (!is_token_char(c)) return make_error("malformed method");
  if (version != "HTTP/1.0" && version != "HTTP/1.1") return make_error("unsupported HTTP version");
  if (target.empty() || target.front() != '/') return make_error("request target must be a path");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return make_error("malformed request target");
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  return HttpRequestLine{std::string(method), std::string(target)};
}

std::string http_response_for(const HttpRequestLine& req, const std::function<std::string()>& metrics) {
  bool head = req.method == "HEAD";
  if (req.method != "GET" && !head)
    return reply("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET and HEAD\n", false,
                 "Allow: GET, HEAD\r\n");
  if (req.path != "/metrics")
    return reply("404 Not Found", "text/plain; charset=utf-8", "uplinkd serves /metrics only\n", head);
  return reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics(), head);
}

struct MetricsHttpServer::Acceptor {
  explicit Acceptor(asio::io_context& io) : acceptor(io) {}
  tcp::acceptor acceptor;
};

// One scrape: read the head, answer, close. Owned by the server's map; async
// handlers hold a shared_ptr so the object outlives operations still queued.
class MetricsHttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(MetricsHttpServer& server, tcp::socket sock, uint64_t id)
      : server_(server), sock_(std::move(sock)), id_(id), timer_(server.time_.make_timer()) {}

  void start() {
    std::weak_ptr<Connection> weak = shared_from_this();
    timer_->arm(server_.opts_.read_timeout, [weak] {
      if (auto self = weak.lock()) self->close();  // a slow client costs one slot for a bounded time
    });
    read();
  }

  void close() {
    if (closed_) return;
    auto self = shared_from_this();
    closed_ = true;
    timer_->cancel();
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    server_.conns_.erase(id_);
  }

 private:
  void read() {
    sock_.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                          size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    buf_.append(rbuf_.data(), n);
    size_t end = head_end(buf_);
    if (end == std::string::npos) {
      if (buf_.size() > kMaxHttpHeadBytes) {
        respond(reply("431 Request Header Fields Too Large", "text/plain; charset=utf-8", "request head too large\n",
                      false));
        return;
      }
      read();
      return;
    }
    timer_->cancel();
    auto req = parse_http_request_head(std::string_view(buf_).substr(0, end));
    if (!req) {
      respond(reply("400 Bad Request", "text/plain; charset=utf-8", req.error().message + "\n", false));
      return;
    }
    ++server_.requests_;
    respond(http_response_for(*req, server_.metrics_));
  }

  void respond(std::string text) {
    out_ = std::move(text);
    // Bounded too: a client that does not read its answer is dropped.
    std::weak_ptr<Connection> weak = shared_from_this();
    timer_->arm(server_.opts_.read_timeout, [weak] {
      if (auto self = weak.lock()) self->close();
    });
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](const boost::system::error_code&, size_t) { self->close(); });
  }

  MetricsHttpServer& server_;  // valid while !closed_: stop() closes every connection
  tcp::socket sock_;
  uint64_t id_;
  std::unique_ptr<Timer> timer_;
  std::array<char, 2048> rbuf_{};
  std::string buf_, out_;
  bool closed_ = false;
};

MetricsHttpServer::MetricsHttpServer(asio::io_context& io, TimeSource& time, std::function<std::string()> metrics,
                                     MetricsHttpOptions options)
    : time_(time), metrics_(std::move(metrics)), opts_(std::move(options)),
      acceptor_(std::make_unique<Acceptor>(io)), retry_(time.make_timer()) {}

MetricsHttpServer::~MetricsHttpServer() {
  *alive_ = false;
  stop();
}

Result<void> MetricsHttpServer::start() {
  const std::string where = "metrics endpoint " + opts_.listen.to_string();
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(opts_.listen.addr.to_string(), ec);
  if (ec) return make_error(where + ": " + ec.message());
  tcp::endpoint ep(addr, opts_.listen.port);
  auto& a = acceptor_->acceptor;
  if (a.open(ep.protocol(), ec); ec) return make_error(where + ": socket: " + ec.message());
  a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (addr.is_v6()) a.set_option(asio::ip::v6_only(true), ec);
  boost::system::error_code ignored;
  if (a.bind(ep, ec); ec) {
    a.close(ignored);
    return make_error(where + ": bind: " + ec.message() + " (daemon.metrics_listen)");
  }
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec) {
    a.close(ignored);
    return make_error(where + ": listen: " + ec.message());
  }
  port_ = a.local_endpoint(ec).port();
  running_ = true;
  accept();
  IpEndpoint bound = opts_.listen;
  bound.port = port_;
  logger()->info("metrics over HTTP on http://{}/metrics", bound.to_string());
  return {};
}

void MetricsHttpServer::stop() {
  running_ = false;
  retry_->cancel();
  boost::system::error_code ignored;
  acceptor_->acceptor.close(ignored);
  auto conns = conns_;  // close() erases from the map
  for (auto& [id, c] : conns) c->close();
}

void MetricsHttpServer::accept() {
  if (!running_) return;
  acceptor_->acceptor.async_accept([this, alive = alive_](const boost::system::error_code& ec, tcp::socket sock) {
    if (!*alive || !running_) return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on the error.
      logger()->warn("metrics endpoint: accept: {}; retrying in 100ms", ec.message());
      retry_->arm(100ms, [this] { accept(); });
      return;
    }
    if (conns_.size() >= opts_.max_connections) {
      boost::system::error_code ignored;
      sock.close(ignored);  // a scraper retries on its next interval
    } else {
      uint64_t id = next_id_++;
      auto conn = std::make_shared<Connection>(*this, std::move(sock), id);
      conns_[id] = conn;
      conn->start();
    }
    accept();
  });
}

}  // namespace uplink::control
