#include "control/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <vector>

#include "common/log.h"

namespace uplink::control {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = get_logger("control");
  return l;
}

// What is at `path`: nothing, a socket somebody answers on, a stale socket,
// or something else we must not delete.
enum class SocketProbe { absent, live, stale, not_a_socket, error };

SocketProbe probe_socket(const std::string& path, std::string& detail) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return SocketProbe::absent;
    detail = std::strerror(errno);
    return SocketProbe::error;
  }
  if (!S_ISSOCK(st.st_mode)) return SocketProbe::not_a_socket;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    detail = std::strerror(errno);
    return SocketProbe::error;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  // A connect to a local socket completes or fails at once: no blocking wait.
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (rc == 0) return SocketProbe::live;
  if (err == ECONNREFUSED) return SocketProbe::stale;
  detail = std::strerror(err);
  return SocketProbe::error;
}

}  // namespace

// One client. Owned by the server's map; async handlers hold a shared_ptr so
// the object outlives any operation still queued after close().
class ControlServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ControlServer& server, stream::socket sock, uint64_t id)
      : server_(server), sock_(std::move(sock)), id_(id), framer_(server.opts_.max_request_bytes),
        timer_(server.time_.make_timer()) {}

  // `reject`: a message to send before closing (limits, credentials).
  // `no_changes`: why this peer may not change state (empty: it may).
  void start(std::optional<std::string> reject, std::optional<std::string> no_changes) {
    no_changes_ = std::move(no_changes);
    if (reject) {
      send(encode_error(*reject));
      close_after_write_ = true;
      write_next();
      return;
    }
    arm_timeout();
    read();
  }

  bool following() const { return following_; }

  void send(std::string line) {
    if (closed_) return;
    if (queued_bytes_ + line.size() > server_.opts_.max_queued_bytes) {
      logger()->warn("connection {} does not read its {} queued bytes; dropping it", id_, queued_bytes_);
      close();
      return;
    }
    queued_bytes_ += line.size();
    out_.push_back(std::move(line));
    write_next();
  }

  void close() {
    if (closed_) return;
    auto self = shared_from_this();  // the map may hold the last reference
    closed_ = true;
    timer_->cancel();
    boost::system::error_code ignored;
    sock_.shutdown(stream::socket::shutdown_both, ignored);
    sock_.close(ignored);
    server_.remove(id_);
  }

 private:
  void arm_timeout() {
    std::weak_ptr<Connection> weak = shared_from_this();
    timer_->arm(server_.opts_.read_timeout, [weak] {
      auto self = weak.lock();
      if (!self || self->closed_ || self->following_) return;
      logger()->info("connection {} sent no complete request in time; closing it", self->id_);
      self->send(encode_error("timeout: no complete request line within the read timeout; closing the connection"));
      self->close_after_write_ = true;
      self->write_next();
    });
  }

  void read() {
    sock_.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                          size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      close();  // EOF or reset: the client is gone
      return;
    }
    if (close_after_write_) return;  // a final error is on its way; stop reading
    if (following_) {  // followers only listen; what they send is ignored
      read();
      return;
    }
    framer_.feed(std::string_view(rbuf_.data(), n));
    for (;;) {
      auto next = framer_.next();
      if (next.status == LineFramer::Status::need_more) break;
      if (next.status == LineFramer::Status::too_long) {
        send(encode_error("request too large: a request line may not exceed " +
                          std::to_string(server_.opts_.max_request_bytes) + " bytes; closing the connection"));
        close_after_write_ = true;
        write_next();
        return;
      }
      handle_line(next.line);
      if (closed_ || close_after_write_) return;
      arm_timeout();  // a new request window starts after each complete request
      if (following_) {
        timer_->cancel();
        break;
      }
    }
    read();
  }

  void handle_line(const std::string& line) {
    auto req = parse_request(line, server_.opts_.verbs);
    if (!req) {
      logger()->debug("connection {}: {}", id_, req.error().message);
      send(encode_error(req.error().message));
      return;
    }
    if (req->changes_state && no_changes_) {
      logger()->warn("connection {}: refused '{}': {}", id_, req->cmd, *no_changes_);
      send(encode_error("permission denied: '" + req->cmd + "' " + *no_changes_));
      return;
    }
    Reply reply = server_.handler_.handle(*req);
    if (!reply.ok) {
      send(encode_error(reply.error));
      return;
    }
    send(encode_ok(reply.result));
    if (reply.follow_events) following_ = true;
  }

  void write_next() {
    if (writing_ || closed_) return;
    if (out_.empty()) {
      if (close_after_write_) close();
      return;
    }
    writing_ = true;
    asio::async_write(sock_, asio::buffer(out_.front()),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        if (self->closed_) return;
                        if (ec) {
                          self->close();
                          return;
                        }
                        self->queued_bytes_ -= self->out_.front().size();
                        self->out_.pop_front();
                        self->write_next();
                      });
  }

  ControlServer& server_;  // valid while !closed_: the server closes every connection in stop()
  stream::socket sock_;
  uint64_t id_;
  LineFramer framer_;
  std::unique_ptr<Timer> timer_;
  std::array<char, 4096> rbuf_{};
  std::deque<std::string> out_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool following_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
  std::optional<std::string> no_changes_;
};

ControlServer::ControlServer(asio::io_context& io, TimeSource& time, RequestHandler& handler,
                             const PeerPolicy& peers, ServerOptions options)
    : time_(time), handler_(handler), peers_(peers), opts_(std::move(options)), acceptor_(io),
      accept_retry_(time.make_timer()) {}

ControlServer::~ControlServer() {
  *alive_ = false;
  stop();
}

Result<void> ControlServer::start() {
  const std::string& path = opts_.path;
  if (path.empty()) return make_error("control socket: daemon.socket is empty");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return make_error("control socket: path '" + path + "' is too long for a unix socket (max 107 bytes)");
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(parent, ec)) {
      std::filesystem::create_directories(parent, ec);
      if (ec) return make_error("control socket: cannot create directory " + parent.string() + ": " + ec.message());
      std::filesystem::permissions(parent, std::filesystem::perms(0755), ec);
    }
  }
  std::string detail;
  switch (probe_socket(path, detail)) {
    case SocketProbe::absent: break;
    case SocketProbe::live:
      return make_error("control socket: another process (uplinkd?) is answering on " + path +
                        "; refusing to start a second daemon");
    case SocketProbe::stale:
      logger()->info("removing stale socket {} (nothing answers on it)", path);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return make_error("control socket: cannot remove stale " + path + ": " + std::strerror(errno));
      }
      break;
    case SocketProbe::not_a_socket:
      return make_error("control socket: " + path + " exists and is not a socket; refusing to replace it");
    case SocketProbe::error:
      return make_error("control socket: cannot check " + path + ": " + detail);
  }

  boost::system::error_code ec;
  acceptor_.open(stream(), ec);
  if (ec) return make_error("control socket: socket(): " + ec.message());
  // umask covers the window between bind() and chmod(): the file is never
  // more open than 0660, not even for an instant.
  mode_t old = ::umask(0117);
  acceptor_.bind(stream::endpoint(path), ec);
  ::umask(old);
  if (ec) {
    acceptor_.close();
    return make_error("control socket: cannot bind " + path + ": " + ec.message());
  }
  bound_ = true;
  if (::chmod(path.c_str(), 0660) != 0) {
    stop();
    return make_error("control socket: chmod 0660 " + path + ": " + std::strerror(errno));
  }
  if (opts_.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *opts_.group) != 0) {
    int err = errno;
    stop();
    return make_error("control socket: chgrp " + std::to_string(*opts_.group) + " " + path + ": " +
                      std::strerror(err));
  }
  acceptor_.listen(static_cast<int>(opts_.max_connections), ec);
  if (ec) {
    stop();
    return make_error("control socket: listen on " + path + ": " + ec.message());
  }
  running_ = true;
  logger()->info("listening on {}", path);
  accept();
  return {};
}

void ControlServer::stop() {
  running_ = false;
  accept_retry_->cancel();
  boost::system::error_code ec;
  acceptor_.close(ec);
  // close() erases from the map: iterate over a copy.
  std::vector<std::shared_ptr<Connection>> all;
  for (auto& [id, c] : conns_) all.push_back(c);
  for (auto& c : all) c->close();
  if (bound_) {
    ::unlink(opts_.path.c_str());
    bound_ = false;
  }
}

void ControlServer::accept() {
  if (!running_) return;
  acceptor_.async_accept([this, alive = alive_](const boost::system::error_code& ec, stream::socket sock) {
    if (!*alive || !running_) return;
    if (ec) {
      // EMFILE and friends: retry shortly instead of spinning on the error.
      logger()->warn("accept on {} failed: {}; retrying in 100ms", opts_.path, ec.message());
      accept_retry_->arm(100ms, [this] { accept(); });
      return;
    }
    on_accept(std::move(sock));
    accept();
  });
}

void ControlServer::on_accept(stream::socket sock) {
  std::optional<std::string> reject, no_changes;
  if (conns_.size() >= opts_.max_connections) {
    reject = "too many connections (limit " + std::to_string(opts_.max_connections) + "); try again later";
    logger()->warn("{}", *reject);
  } else {
    auto cred = peer_credentials(sock.native_handle());
    if (!cred) {
      reject = cred.error().message;
    } else if (auto why = peers_.check(*cred)) {
      reject = *why;
      logger()->warn("refused pid {} uid {}: {}", cred->pid, cred->uid, *why);
    } else {
      no_changes = peers_.check_change(*cred);  // once per connection: group lookups are not free
    }
  }
  uint64_t id = next_id_++;
  auto conn = std::make_shared<Connection>(*this, std::move(sock), id);
  // A rejected connection lives in the map too, only until its error is written.
  if (!reject || conns_.size() < opts_.max_connections * 2) {
    conns_[id] = conn;
    conn->start(std::move(reject), std::move(no_changes));
  }
}

size_t ControlServer::followers() const {
  size_t n = 0;
  for (const auto& [id, c] : conns_) n += c->following() ? 1 : 0;
  return n;
}

void ControlServer::publish(const Json& event) {
  std::string line = encode_line(event);
  std::vector<std::shared_ptr<Connection>> targets;
  for (auto& [id, c] : conns_) {
    if (c->following()) targets.push_back(c);
  }
  for (auto& c : targets) c->send(line);
}

}  // namespace uplink::control
