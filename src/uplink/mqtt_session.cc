#include "uplink/mqtt_session.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/log.h"

// ---- steering libmosquitto's socket -------------------------------------------------
//
// libmosquitto creates its TCP socket inside mosquitto_connect*() and offers
// no hook to set options before connect(2); a mark set afterwards is too late
// (the route and the source address are chosen by connect). So the process's
// socket(2) is interposed here: it is the plain system call, plus SO_MARK on
// AF_INET/AF_INET6 sockets created by *this thread* while MarkGuard is alive
// (only around MqttSession::connect's call into libmosquitto). libmosquitto
// is a shared library, so its call binds to this definition; every other
// caller gets exactly the system call.
namespace {
thread_local bool t_mark_active = false;
thread_local uint32_t t_mark = 0;
thread_local int t_mark_errno = 0;

struct MarkGuard {
  explicit MarkGuard(uint32_t mark) {
    t_mark_active = mark != 0;
    t_mark = mark;
    t_mark_errno = 0;
  }
  ~MarkGuard() { t_mark_active = false; }
};
}  // namespace

extern "C" int socket(int domain, int type, int protocol) {
  long fd = syscall(SYS_socket, domain, type, protocol);
  if (fd >= 0 && t_mark_active && (domain == AF_INET || domain == AF_INET6)) {
    uint32_t mark = t_mark;
    if (setsockopt(int(fd), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) t_mark_errno = errno;
  }
  return int(fd);
}

namespace uplink {

namespace {

auto log() {
  static auto l = get_logger("uplink");
  return l;
}

void lib_init() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

std::string mosq_error(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}

}  // namespace

MqttOptions mqtt_options(const UplinkConfig& c) {
  MqttOptions o;
  o.broker = c.broker;
  o.client_id = c.client_id;
  if (c.access_token) {
    o.username = c.access_token->value;
  } else {
    o.username = c.username;
    if (c.password) o.password = c.password->value;
  }
  o.ca_file = c.ca_file;
  o.cert_file = c.cert_file;
  o.key_file = c.key_file;
  o.keepalive = c.keepalive;
  o.window = c.window;
  o.reconnect_min = c.reconnect_min;
  o.reconnect_max = c.reconnect_max;
  return o;
}

MqttSession::MqttSession(boost::asio::io_context& io, TimeSource& time, MqttOptions options)
    : io_(io), time_(time), opts_(std::move(options)), retry_timer_(time.make_timer()),
      misc_timer_(time.make_timer()), connect_timer_(time.make_timer()) {
  lib_init();
}

MqttSession::~MqttSession() {
  stop();
  *alive_ = false;
}

std::string_view MqttSession::state_name() const {
  switch (state_) {
    case State::idle: return "idle";
    case State::waiting_link: return "waiting_link";
    case State::connecting: return "connecting";
    case State::connected: return "connected";
    case State::backoff: return "backoff";
  }
  return "?";
}

int MqttSession::socket_fd() const { return mosq_ ? mosquitto_socket(mosq_) : -1; }

std::optional<Duration> MqttSession::backoff_left() const {
  if (state_ != State::backoff) return std::nullopt;
  return std::max<Duration>(Duration::zero(), retry_at_ - time_.now());
}

Duration MqttSession::next_backoff() {
  double base = std::chrono::duration<double>(opts_.reconnect_min).count();
  double cap = std::chrono::duration<double>(opts_.reconnect_max).count();
  double d = std::min(cap, base * double(1ull << std::min(failures_, 30)));
  ++failures_;
  std::uniform_real_distribution<double> jitter(d / 2, d);
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(jitter(rng_)));
}

void MqttSession::start(bool require_route) {
  started_ = true;
  require_route_ = require_route;
  connect();
}

void MqttSession::stop() {
  if (!started_) return;
  started_ = false;
  bool was = state_ == State::connected;
  if (mosq_ && was) {
    in_callback_ = true;  // a callback from inside the disconnect must not tear down under it
    mosquitto_disconnect_v5(mosq_, MQTT_RC_NORMAL_DISCONNECTION, nullptr);
    in_callback_ = false;
    lost_pending_ = false;
  }
  teardown();
  retry_timer_->cancel();
  state_ = State::idle;
  if (was && on_disconnected) on_disconnected("stopped");
}

void MqttSession::set_route(const std::string& link, uint32_t mark) {
  if (link == link_ && mark == mark_) return;
  std::string from = link_.empty() ? "-" : link_;
  link_ = link;
  mark_ = mark;
  if (!started_) return;
  log()->info("uplink: broker connection moves from {} to {}: reconnecting now", from, link.empty() ? "-" : link);
  failures_ = 0;
  lose("carrying link changed to " + (link.empty() ? std::string("none") : link), /*retry_now=*/true);
}

void MqttSession::connect() {
  teardown();
  retry_timer_->cancel();
  if (!started_) return;
  if (require_route_ && link_.empty()) {
    state_ = State::waiting_link;
    return;
  }
  ++attempts_;
  mosq_ = mosquitto_new(opts_.client_id.c_str(), /*clean_session=*/true, this);
  if (!mosq_) {
    lose("cannot create an MQTT client: " + std::string(std::strerror(errno)));
    return;
  }
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(mosq_, MOSQ_OPT_SEND_MAXIMUM, std::max(1, opts_.window));
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  if (!opts_.username.empty())
    mosquitto_username_pw_set(mosq_, opts_.username.c_str(), opts_.password ? opts_.password->c_str() : nullptr);
  if (opts_.broker.tls) {
    int rc = MOSQ_ERR_SUCCESS;
    if (opts_.ca_file.empty()) mosquitto_int_option(mosq_, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    rc = mosquitto_tls_set(mosq_, opts_.ca_file.empty() ? nullptr : opts_.ca_file.c_str(),
                           opts_.ca_file.empty() ? "/etc/ssl/certs" : nullptr,
                           opts_.cert_file.empty() ? nullptr : opts_.cert_file.c_str(),
                           opts_.key_file.empty() ? nullptr : opts_.key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      lose("TLS setup: " + mosq_error(rc));
      return;
    }
  }
  mosquitto_connect_v5_callback_set(mosq_, &MqttSession::cb_connect);
  mosquitto_disconnect_v5_callback_set(mosq_, &MqttSession::cb_disconnect);
  mosquitto_publish_v5_callback_set(mosq_, &MqttSession::cb_publish);
  mosquitto_message_v5_callback_set(mosq_, &MqttSession::cb_message);
  state_ = State::connecting;
  int keepalive = int(std::chrono::duration_cast<std::chrono::seconds>(opts_.keepalive).count());
  int rc;
  int mark_errno;
  {
    MarkGuard guard(mark_);
    rc = mosquitto_connect_bind_async(mosq_, opts_.broker.host.c_str(), opts_.broker.port, keepalive, nullptr);
    mark_errno = t_mark_errno;
  }
  if (mark_errno) {
    lose("cannot steer the connection over " + link_ + " (SO_MARK " + std::to_string(mark_) +
         "): " + std::strerror(mark_errno));
    return;
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    lose("connect to " + opts_.broker.host + ":" + std::to_string(opts_.broker.port) + ": " + mosq_error(rc));
    return;
  }
  log()->debug("uplink: connecting to {}:{} over {}", opts_.broker.host, opts_.broker.port,
               link_.empty() ? "the default route" : link_);
  connect_timer_->arm(opts_.connect_timeout, [this] { lose("no CONNACK within the connect timeout"); });
  misc_timer_->arm(std::chrono::seconds(1), [this] { misc(); });
  watch();
}

void MqttSession::teardown() {
  ++generation_;
  connect_timer_->cancel();
  misc_timer_->cancel();
  forget_socket();
  fd_ = -1;
  if (mosq_) {
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
  }
}

void MqttSession::forget_socket() {
  if (sock_) {
    sock_->release();  // libmosquitto owns the fd and closes it
    sock_.reset();
  }
  read_waiting_ = write_waiting_ = false;
}

void MqttSession::lose(const std::string& reason, bool retry_now) {
  if (in_callback_) {
    // Inside libmosquitto: tear down once it has returned (after_loop).
    if (!lost_pending_) {
      lost_pending_ = true;
      lost_reason_ = reason;
    }
    return;
  }
  const bool was_connected = state_ == State::connected;
  teardown();
  last_error_ = reason;
  if (was_connected) log()->warn("uplink: broker connection lost: {}", reason);
  else if (!retry_now) log()->info("uplink: broker not reachable: {}", reason);
  if (!started_) {
    state_ = State::idle;
  } else if (require_route_ && link_.empty()) {
    state_ = State::waiting_link;
  } else if (retry_now) {
    state_ = State::connecting;
    // From the io_context, never from inside the caller's stack.
    boost::asio::post(io_, [this, alive = alive_] {
      if (*alive && started_ && !mosq_) connect();
    });
  } else {
    state_ = State::backoff;
    Duration d = next_backoff();
    retry_at_ = time_.now() + d;
    retry_timer_->arm(d, [this] { connect(); });
  }
  if (was_connected && on_disconnected) on_disconnected(reason);
}

void MqttSession::after_loop(int rc, const char* what) {
  in_callback_ = false;
  if (lost_pending_) {
    lost_pending_ = false;
    lose(lost_reason_);
    return;
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    lose(std::string(what) + mosq_error(rc));
    return;
  }
  watch();
}

void MqttSession::watch() {
  if (!mosq_) return;
  int fd = mosquitto_socket(mosq_);
  if (fd != fd_) {
    forget_socket();
    ++generation_;
    fd_ = fd;
    if (fd >= 0) sock_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd);
  }
  if (!sock_) {
    if (!in_callback_) lose("socket closed");
    return;
  }
  using sd = boost::asio::posix::stream_descriptor;
  // Once the socket is ready: libmosquitto's read or write step, then after_loop.
  auto wait = [this](sd::wait_type type, bool& waiting, int (*loop)(mosquitto*, int), const char* what) {
    waiting = true;
    sock_->async_wait(type, [this, alive = alive_, gen = generation_, &waiting, loop,
                             what](const boost::system::error_code& ec) {
      if (!*alive || gen != generation_) return;
      waiting = false;
      if (ec || !mosq_) return;
      in_callback_ = true;
      after_loop(loop(mosq_, 64), what);
    });
  };
  if (!read_waiting_) wait(sd::wait_read, read_waiting_, mosquitto_loop_read, "read: ");
  if (!write_waiting_ && mosquitto_want_write(mosq_))
    wait(sd::wait_write, write_waiting_, mosquitto_loop_write, "write: ");
}

void MqttSession::misc() {
  if (!mosq_) return;
  misc_timer_->arm(std::chrono::seconds(1), [this] { misc(); });
  in_callback_ = true;
  int rc = mosquitto_loop_misc(mosq_);
  after_loop(rc, "keepalive: ");
}

Result<int> MqttSession::publish(const StoredMessage& m) {
  if (state_ != State::connected || !mosq_) return make_error("not connected");
  std::string topic = topic_for ? topic_for(m) : m.topic;
  mosquitto_property* props = nullptr;
  mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "id", std::to_string(m.id).c_str());
  int mid = 0;
  int rc = mosquitto_publish_v5(mosq_, &mid, topic.c_str(), int(m.payload.size()), m.payload.data(), 1, false, props);
  mosquitto_property_free_all(&props);
  if (rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_MALFORMED_UTF8 ||
      rc == MOSQ_ERR_QOS_NOT_SUPPORTED) {
    // The broker can never take this one: a rejection, reported like a PUBACK.
    static int synthetic = -1;
    int token = synthetic--;
    log()->warn("uplink: message {} cannot be published to '{}': {}", m.id, topic, mosq_error(rc));
    boost::asio::post(io_, [this, alive = alive_, token] {
      if (*alive && on_puback) on_puback(token, PubackResult::rejected);
    });
    return token;
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    std::string why = mosq_error(rc);
    lose("publish: " + why);
    return make_error(why);
  }
  watch();
  return mid;
}

Result<int> MqttSession::publish_raw(const std::string& topic, const std::string& payload) {
  if (state_ != State::connected || !mosq_) return make_error("not connected");
  int mid = 0;
  int rc = mosquitto_publish_v5(mosq_, &mid, topic.c_str(), int(payload.size()), payload.data(), 1, false, nullptr);
  if (rc != MOSQ_ERR_SUCCESS) return make_error(mosq_error(rc));
  watch();
  return mid;
}

Result<void> MqttSession::subscribe(const std::string& topic) {
  if (state_ != State::connected || !mosq_) return make_error("not connected");
  int rc = mosquitto_subscribe_v5(mosq_, nullptr, topic.c_str(), 1, 0, nullptr);
  if (rc != MOSQ_ERR_SUCCESS) return make_error(mosq_error(rc));
  watch();
  return {};
}

void MqttSession::cb_connect(mosquitto*, void* obj, int rc, int, const mosquitto_property*) {
  auto* self = static_cast<MqttSession*>(obj);
  if (rc != 0) {
    self->lose(std::string("broker refused the connection: ") + mosquitto_reason_string(rc));
    return;
  }
  self->connect_timer_->cancel();
  self->state_ = State::connected;
  self->failures_ = 0;
  ++self->connects_;
  self->last_error_.clear();
  log()->info("uplink: connected to {}:{} over {}", self->opts_.broker.host, self->opts_.broker.port,
              self->link_.empty() ? "the default route" : self->link_);
  if (self->on_connected) self->on_connected();
}

void MqttSession::cb_disconnect(mosquitto*, void* obj, int rc, const mosquitto_property*) {
  auto* self = static_cast<MqttSession*>(obj);
  self->lose(rc == 0 ? std::string("disconnected") : "disconnected: " + mosq_error(rc));
}

void MqttSession::cb_publish(mosquitto*, void* obj, int mid, int rc, const mosquitto_property*) {
  auto* self = static_cast<MqttSession*>(obj);
  PubackResult r = PubackResult::ok;
  if (rc >= 0x80) r = (rc == MQTT_RC_QUOTA_EXCEEDED || rc == MQTT_RC_IMPLEMENTATION_SPECIFIC ||
                       rc == MQTT_RC_UNSPECIFIED)
                          ? PubackResult::retry
                          : PubackResult::rejected;
  if (self->on_puback) self->on_puback(mid, r);
}

void MqttSession::cb_message(mosquitto*, void* obj, const mosquitto_message* m, const mosquitto_property*) {
  auto* self = static_cast<MqttSession*>(obj);
  if (!self->on_message || !m || !m->topic) return;
  std::string payload(static_cast<const char*>(m->payload), size_t(std::max(0, m->payloadlen)));
  self->on_message(m->topic, payload);
}

}  // namespace uplink
