#include "cli/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "control/protocol.h"

namespace uplink::cli {

namespace {
// Long enough for a reload that validates and applies a large file.
constexpr int kReplyTimeoutMs = 30000;
}  // namespace

std::string resolve_socket_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("UPLINKD_SOCKET"); env && *env) return env;
  return kDefaultSocket;
}

ControlClient::~ControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> ControlClient::connect(const std::string& path) {
  path_ = path;
  auto fail = [&](const std::string& why) {
    return make_error("cannot connect to " + path + ": " + why + " (is uplinkd running?)");
  };
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return fail("path too long for a unix socket");
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == EACCES || err == EPERM) {
      return make_error("cannot connect to " + path + ": " + std::strerror(err) +
                        " (run as root or as a member of the socket's group)");
    }
    return fail(std::strerror(err));
  }
  return {};
}

Result<void> ControlClient::send_all(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot send request to " + path_ + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<std::string> ControlClient::read_line(int timeout_ms) {
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return make_error("no answer from uplinkd on " + path_ + " within " + std::to_string(timeout_ms / 1000) + "s");
    if (rc < 0) return make_error(std::string("poll: ") + std::strerror(errno));
    char chunk[65536];
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot read from " + path_ + ": " + std::strerror(errno));
    }
    if (n == 0) return make_error("uplinkd closed the connection");
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

Result<Json> ControlClient::request(const Json& req) {
  if (auto s = send_all(control::encode_request(req)); !s) {
    // The daemon may have refused us (credentials, connection limit) and
    // closed before reading: its one-line reason is still in our buffer.
    auto why = read_line(1000);
    if (why) return control::decode_response(*why);
    return s.error();
  }
  auto line = read_line(kReplyTimeoutMs);
  if (!line) return line.error();
  return control::decode_response(*line);
}

Result<void> ControlClient::follow(const Json& req, const std::function<bool(const Json&)>& on_event, int out_fd) {
  auto ack = request(req);
  if (!ack) return ack.error();
  for (;;) {
    if (out_fd >= 0 && buf_.find('\n') == std::string::npos) {
      // Wait for the next event, watching our output too: a closed pipe shows
      // POLLERR (POLLHUP for a socket) at once, files and terminals nothing.
      pollfd p[2] = {{fd_, POLLIN, 0}, {out_fd, 0, 0}};
      int rc = ::poll(p, 2, -1);
      if (rc < 0 && errno == EINTR) continue;
      if (rc > 0 && (p[1].revents & (POLLERR | POLLHUP))) return {};
      if (rc > 0 && (p[1].revents & POLLNVAL)) out_fd = -1;  // not open: nothing to watch
      if (rc > 0 && !(p[0].revents & (POLLIN | POLLERR | POLLHUP))) continue;
    }
    auto line = read_line(-1);
    if (!line) {
      if (line.error().message == "uplinkd closed the connection") {
        return make_error("uplinkd closed the event stream (daemon stopped, or this reader was too slow)");
      }
      return line.error();
    }
    Json ev = Json::parse(*line, nullptr, false);
    if (ev.is_discarded()) return make_error("malformed event line from uplinkd");
    if (!on_event(ev)) return {};
  }
}

}  // namespace uplink::cli
