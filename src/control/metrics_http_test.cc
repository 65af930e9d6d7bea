#include "control/metrics_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace uplink::control {
namespace {

TEST(HttpHead, ParsesTheRequestLineAndDropsTheQuery) {
  auto r = parse_http_request_head("GET /metrics?name[]=x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->path, "/metrics");
  auto bare = parse_http_request_head("HEAD /metrics HTTP/1.0\n\n");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->method, "HEAD");
}

TEST(HttpHead, RefusesMalformedHeads) {
  for (const char* bad : {"", "GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/2\r\n\r\n",
                          "GET metrics HTTP/1.1\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
                          "G(T /metrics HTTP/1.1\r\n\r\n", "GET /met rics HTTP/1.1\r\n\r\n", " GET / HTTP/1.1\r\n\r\n"}) {
    EXPECT_FALSE(parse_http_request_head(bad)) << bad;
  }
  EXPECT_FALSE(parse_http_request_head("GET /" + std::string(kMaxHttpHeadBytes, 'a') + " HTTP/1.1\r\n\r\n"));
}

TEST(HttpResponse, MetricsNotFoundAndMethodNotAllowed) {
  int calls = 0;
  auto metrics = [&] {
    ++calls;
    return std::string("uplink_up 1\n");
  };
  EXPECT_EQ(http_response_for({"GET", "/metrics"}, metrics),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 12\r\n"
            "Connection: close\r\n\r\nuplink_up 1\n");
  // HEAD: the same headers (the length of the body it would get), no body
  EXPECT_EQ(http_response_for({"HEAD", "/metrics"}, metrics),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 12\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(http_response_for({"GET", "/"}, metrics).rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  std::string post = http_response_for({"POST", "/metrics"}, metrics);
  EXPECT_EQ(post.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
  EXPECT_NE(post.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(calls, 2);  // metrics are only rendered for a scrape
}

// A raw TCP client on loopback, non-blocking after connect.
class TcpClient {
 public:
  explicit TcpClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~TcpClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& s) { ASSERT_EQ(::write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  // Reads what is there; true once the server closed.
  bool closed() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        in_.append(buf, n);
        continue;
      }
      return n == 0;
    }
  }
  const std::string& received() const { return in_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string in_;
};

class MetricsHttpTest : public ::testing::Test {
 protected:
  void start(size_t max_connections = 8) {
    MetricsHttpOptions o;
    o.listen = *IpEndpoint::parse("127.0.0.1:1");
    o.listen.port = 0;  // ephemeral
    o.max_connections = max_connections;
    server_ = std::make_unique<MetricsHttpServer>(io_, time_, [] { return std::string("uplink_links 3\n"); }, o);
    auto r = server_->start();
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_NE(server_->port(), 0);
  }
  // Runs whatever becomes ready within a few milliseconds (bounded).
  void settle() {
    for (int i = 0; i < 20; ++i) {
      io_.run_one_for(std::chrono::milliseconds(1));
      io_.restart();
    }
  }
  // Runs ready handlers until `done` holds; bounded so a bug fails, not hangs.
  bool pump(const std::function<bool()>& done) {
    for (int i = 0; i < 2000; ++i) {
      io_.poll();
      io_.restart();
      if (done()) return true;
      io_.run_one_for(std::chrono::milliseconds(5));
      io_.restart();
    }
    return false;
  }

  boost::asio::io_context io_;
  FakeTimeSource time_;
  std::unique_ptr<MetricsHttpServer> server_;
};

TEST_F(MetricsHttpTest, AScrapeGetsTheMetricsAndTheConnectionCloses) {
  start();
  TcpClient c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send("GET /metrics HTTP/1.1\r\nHost: router\r\nUser-Agent: Prometheus/2\r\n\r\n");
  ASSERT_TRUE(pump([&] { return c.closed(); }));
  EXPECT_EQ(c.received(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 15\r\n"
            "Connection: close\r\n\r\nuplink_links 3\n");
  EXPECT_EQ(server_->requests(), 1u);
  EXPECT_TRUE(pump([&] { return server_->connections() == 0; }));
}

TEST_F(MetricsHttpTest, AHeadSentInPiecesAndGarbageGetA400) {
  start();
  TcpClient c(server_->port());
  c.send("GET /metr");
  settle();  // nothing complete yet: no answer
  EXPECT_FALSE(c.closed());
  EXPECT_EQ(c.received(), "");
  c.send("ics HTTP/1.0\n\n");
  ASSERT_TRUE(pump([&] { return c.closed(); }));
  EXPECT_EQ(c.received().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);

  TcpClient bad(server_->port());
  bad.send("\x16\x03\x01 hello\r\n\r\n");  // a TLS client on the plain port
  ASSERT_TRUE(pump([&] { return bad.closed(); }));
  EXPECT_EQ(bad.received().rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
}

TEST_F(MetricsHttpTest, AnOversizedHeadIsRefusedAndASilentClientTimesOut) {
  start();
  TcpClient big(server_->port());
  big.send("GET /metrics HTTP/1.1\r\nX: " + std::string(kMaxHttpHeadBytes + 10, 'a'));
  ASSERT_TRUE(pump([&] { return big.closed(); }));
  EXPECT_EQ(big.received().rfind("HTTP/1.1 431 ", 0), 0u);

  TcpClient silent(server_->port());
  ASSERT_TRUE(pump([&] { return server_->connections() == 1; }));
  time_.advance(std::chrono::seconds(5));
  ASSERT_TRUE(pump([&] { return silent.closed(); }));
  EXPECT_EQ(silent.received(), "");
  EXPECT_EQ(server_->connections(), 0u);
}

TEST_F(MetricsHttpTest, ConnectionsAboveTheLimitAreClosedAtOnce) {
  start(1);
  TcpClient first(server_->port());
  ASSERT_TRUE(pump([&] { return server_->connections() == 1; }));
  TcpClient second(server_->port());
  ASSERT_TRUE(pump([&] { return second.closed(); }));
  EXPECT_EQ(second.received(), "");
  first.send("GET /metrics HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(pump([&] { return first.closed(); }));
  EXPECT_EQ(first.received().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST_F(MetricsHttpTest, AnAddressInUseIsAnErrorNamingIt) {
  start();
  MetricsHttpOptions o;
  o.listen = *IpEndpoint::parse("127.0.0.1:1");
  o.listen.port = server_->port();
  MetricsHttpServer again(io_, time_, [] { return std::string(); }, o);
  auto r = again.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "metrics endpoint 127.0.0.1:" + std::to_string(server_->port()) +
                                   ": bind: Address already in use (daemon.metrics_listen)");
}

}  // namespace
}  // namespace uplink::control
