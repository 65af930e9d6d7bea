// Steering of the broker connection (needs CAP_NET_ADMIN for SO_MARK: label
// netns, run as root): the socket libmosquitto creates carries the mark of
// the carrying link, and a change of link reconnects at once with the new
// mark. Against a mosquitto on 127.0.0.1 (random port); marks on loopback
// traffic change nothing in routing here, the test reads them back.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <fstream>

#include "uplink/broker_test_support.h"
#include "uplink/mqtt_session.h"
#include "uplink/test_support.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

using testing::free_port;

uint32_t mark_of(int fd) {
  uint32_t mark = 0;
  socklen_t len = sizeof mark;
  if (getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) != 0) return 0xffffffff;
  return mark;
}

// Runs the io_context until `cond` holds (bounded by `limit`).
template <class F>
bool run_until(boost::asio::io_context& io, F cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!cond() && std::chrono::steady_clock::now() < end) {
    io.run_for(20ms);
    io.restart();
  }
  return cond();
}

TEST(MqttSteering, SocketCarriesTheLinkMarkAndALinkChangeReconnectsAtOnce) {
  testing::ScratchDir dir;
  int port = free_port();
  std::ofstream(dir.sub("m.conf")) << "listener " << port << " 127.0.0.1\nallow_anonymous true\n";
  testing::Child broker({testing::kMosquitto, "-c", dir.sub("m.conf")}, dir.sub("m.log"));

  boost::asio::io_context io;
  AsioTimeSource time(io);
  MqttOptions o;
  o.broker = *parse_broker_url("mqtt://127.0.0.1:" + std::to_string(port));
  o.client_id = "steer-" + std::to_string(getpid());
  o.reconnect_min = 100ms;
  o.reconnect_max = 200ms;
  MqttSession s(io, time, o);
  int connected = 0, lost = 0;
  s.on_connected = [&] { ++connected; };
  s.on_disconnected = [&](const std::string&) { ++lost; };
  s.start(/*require_route=*/true);
  EXPECT_EQ(s.state(), MqttSession::State::waiting_link);  // no link yet: no connection
  s.set_route("wan1", 0x100);
  ASSERT_TRUE(run_until(io, [&] { return connected == 1; }, 10s)) << s.last_error();
  EXPECT_EQ(mark_of(s.socket_fd()), 0x100u);
  EXPECT_EQ(s.link(), "wan1");

  auto t0 = std::chrono::steady_clock::now();
  s.set_route("cell1", 0x300);
  ASSERT_TRUE(run_until(io, [&] { return connected == 2; }, 10s)) << s.last_error();
  // At once: no backoff, no keepalive expiry.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(lost, 1);
  EXPECT_EQ(mark_of(s.socket_fd()), 0x300u);

  s.set_route("", 0);  // the policy has no usable link: hold the connection down
  run_until(io, [&] { return s.state() == MqttSession::State::waiting_link; }, 2s);
  EXPECT_EQ(s.state(), MqttSession::State::waiting_link);
  s.stop();
}

TEST(MqttSteering, RefusedBrokerBacksOffWithJitterAndGrowth) {
  boost::asio::io_context io;
  AsioTimeSource time(io);
  MqttOptions o;
  o.broker = *parse_broker_url("mqtt://127.0.0.1:" + std::to_string(free_port()));  // nobody listens
  o.client_id = "backoff";
  o.reconnect_min = 1s;
  o.reconnect_max = 8s;
  MqttSession s(io, time, o);
  std::vector<Duration> d;
  for (int i = 0; i < 6; ++i) d.push_back(s.next_backoff());
  EXPECT_GE(d[0], 500ms);
  EXPECT_LE(d[0], 1s);
  EXPECT_GE(d[3], 4s);   // 8s cap reached at the 4th: drawn in [4s, 8s]
  EXPECT_LE(d[5], 8s);
  s.start(false);
  run_until(io, [&] { return s.state() == MqttSession::State::backoff; }, 5s);
  EXPECT_EQ(s.state(), MqttSession::State::backoff);
  EXPECT_NE(s.last_error().find("Connection refused"), std::string::npos) << s.last_error();
  s.stop();
}

}  // namespace
}  // namespace uplink
