#pragma once
// MqttSession: one MQTT 5 connection to the platform's broker on libmosquitto,
// driven entirely from the io_context (no mosquitto_loop_start thread).
//
//   io_context: async_wait(read)  on mosquitto_socket() --> mosquitto_loop_read  --> callbacks (CONNACK, PUBACK, PUBLISH)
//               async_wait(write) while mosquitto_want_write --> mosquitto_loop_write
//               1 s timer --> mosquitto_loop_misc (keepalive PINGREQ, ping timeout)
//
// A connection lives in one `struct mosquitto`; when it ends (lost, refused,
// timed out, re-steered) the instance is destroyed and the next attempt gets a
// fresh one, so libmosquitto never re-sends anything on its own: what was in
// flight is sent again by the Dispatcher from the store (clean start, at least
// once, ids carried as the MQTT 5 user property "id").
//
// Steering: the TCP socket is created with SO_MARK = the fwmark of the link
// carrying the connection (set_route). libmosquitto creates its socket inside
// mosquitto_connect*(); there is no hook, so this file interposes socket(2)
// for the process and marks only the sockets created by this thread while a
// connect is in progress (a thread-local guard): see mqtt_session.cc.
// A change of route tears the connection down and reconnects at once.
//
// Reconnects: jittered exponential backoff between reconnect_min and
// reconnect_max (each delay drawn in [d/2, d]); a CONNACK resets it.
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "common/clock.h"
#include "uplink/replay.h"
#include "uplink/uplink_config.h"

struct mosquitto;
struct mosquitto_message;
struct mqtt5__property;  // mosquitto_property

namespace uplink {

struct MqttOptions {
  BrokerUrl broker;
  std::string client_id;
  std::string username;                 // or the ThingsBoard access token
  std::optional<std::string> password;
  std::string ca_file, cert_file, key_file;
  Duration keepalive = std::chrono::seconds(30);
  int window = 64;
  Duration reconnect_min = std::chrono::seconds(1);
  Duration reconnect_max = std::chrono::seconds(60);
  Duration connect_timeout = std::chrono::seconds(10);  // TCP + TLS + CONNACK
};
MqttOptions mqtt_options(const UplinkConfig& c);

class MqttSession final : public Transport {
 public:
  enum class State { idle, waiting_link, connecting, connected, backoff };

  MqttSession(boost::asio::io_context& io, TimeSource& time, MqttOptions options);
  ~MqttSession() override;
  MqttSession(const MqttSession&) = delete;
  MqttSession& operator=(const MqttSession&) = delete;

  // Begins connecting (now, or when a route is set if require_route).
  void start(bool require_route);
  void stop();
  // The link that carries the connection and its mark. A change reconnects at
  // once; an empty link with require_route holds the connection down.
  void set_route(const std::string& link, uint32_t mark);

  bool connected() const override { return state_ == State::connected; }
  Result<int> publish(const StoredMessage& m) override;
  // Anything else (RPC replies, attributes): QoS 1, no store behind it.
  Result<int> publish_raw(const std::string& topic, const std::string& payload);
  Result<void> subscribe(const std::string& topic);

  // Listeners (io thread).
  std::function<void()> on_connected;
  std::function<void(const std::string& reason)> on_disconnected;
  std::function<void(int token, PubackResult)> on_puback;
  std::function<void(const std::string& topic, const std::string& payload)> on_message;
  // The MQTT topic of a stored message (the platform decides).
  std::function<std::string(const StoredMessage&)> topic_for;

  State state() const { return state_; }
  std::string_view state_name() const;
  const std::string& last_error() const { return last_error_; }
  const std::string& link() const { return link_; }
  uint32_t mark() const { return mark_; }
  uint64_t connects() const { return connects_; }
  // The connection's socket (-1 when none): tests read its SO_MARK.
  int socket_fd() const;
  uint64_t attempts() const { return attempts_; }
  std::optional<Duration> backoff_left() const;
  // The delay the next failed attempt will wait (for tests of the backoff).
  Duration next_backoff();

 private:
  static void cb_connect(mosquitto*, void* self, int rc, int flags, const ::mqtt5__property* props);
  static void cb_disconnect(mosquitto*, void* self, int rc, const ::mqtt5__property* props);
  static void cb_publish(mosquitto*, void* self, int mid, int rc, const ::mqtt5__property* props);
  static void cb_message(mosquitto*, void* self, const mosquitto_message* m, const ::mqtt5__property* props);

  void connect();
  // Ends the connection (if any) and, unless stopped/holding, schedules the next attempt.
  void lose(const std::string& reason, bool retry_now = false);
  void teardown();
  // Stops watching the socket (the fd stays libmosquitto's).
  void forget_socket();
  void watch();
  void after_loop(int rc, const char* what);
  void misc();

  boost::asio::io_context& io_;
  TimeSource& time_;
  MqttOptions opts_;
  mosquitto* mosq_ = nullptr;
  std::unique_ptr<boost::asio::posix::stream_descriptor> sock_;
  int fd_ = -1;
  bool read_waiting_ = false, write_waiting_ = false;
  uint64_t generation_ = 0;  // bumped per connection: stale socket waits are ignored
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  State state_ = State::idle;
  bool started_ = false, require_route_ = false;
  std::string link_;
  uint32_t mark_ = 0;
  std::string last_error_;
  std::unique_ptr<Timer> retry_timer_, misc_timer_, connect_timer_;
  TimePoint retry_at_{};
  int failures_ = 0;
  std::mt19937 rng_{std::random_device{}()};
  uint64_t connects_ = 0, attempts_ = 0;
  bool in_callback_ = false;
  bool lost_pending_ = false;
  std::string lost_reason_;
};

}  // namespace uplink
