#pragma once
// The optional Prometheus endpoint (daemon.metrics_listen): GET /metrics over
// HTTP/1.x answers the same text as `uplinkctl metrics`, for node-exporter
// style scraping without a shell on the router. Deliberately tiny: one request
// per connection (Connection: close), the request head bounded in size and
// time, a bounded number of connections, nothing but /metrics served, no
// request body read. It never changes state, so it needs no credentials; bind
// it to loopback or a management address.
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/ip.h"
#include "common/result.h"

namespace uplink::control {

using namespace std::chrono_literals;

// The request line of an HTTP/1.x request head (what the endpoint needs of it).
struct HttpRequestLine {
  std::string method;  // "GET"
  std::string path;    // "/metrics" (query string removed)
};

inline constexpr size_t kMaxHttpHeadBytes = 8 * 1024;

// Parses a complete request head (request line + headers, up to and including
// the blank line; "\r\n" or bare "\n" line ends). Errors are for a 400 reply.
Result<HttpRequestLine> parse_http_request_head(std::string_view head);

// The whole response (status line, headers, body) for a parsed request;
// `metrics` is called only for GET/HEAD /metrics.
std::string http_response_for(const HttpRequestLine& req, const std::function<std::string()>& metrics);

struct MetricsHttpOptions {
  IpEndpoint listen;              // port 0 binds an ephemeral port (tests)
  Duration read_timeout = 5s;        // to deliver the request head
  size_t max_connections = 8;
};

class MetricsHttpServer {
 public:
  MetricsHttpServer(boost::asio::io_context& io, TimeSource& time, std::function<std::string()> metrics,
                    MetricsHttpOptions options);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds and starts accepting; the error names the address.
  Result<void> start();
  // Closes the listener and every connection.
  void stop();
  uint16_t port() const { return port_; }
  size_t connections() const { return conns_.size(); }
  uint64_t requests() const { return requests_; }

 private:
  class Connection;
  friend class Connection;
  void accept();

  TimeSource& time_;
  std::function<std::string()> metrics_;
  MetricsHttpOptions opts_;
  struct Acceptor;
  std::unique_ptr<Acceptor> acceptor_;
  std::unique_ptr<Timer> retry_;
  std::map<uint64_t, std::shared_ptr<Connection>> conns_;
  uint64_t next_id_ = 1;
  uint64_t requests_ = 0;
  uint16_t port_ = 0;
  bool running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplink::control
