#include "daemon/notifier.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace uplink {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

// The notification protocol of sd_notify(3) (a stable systemd interface): one
// datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET, "@..."
// for the abstract namespace. Spoken here directly rather than through
// libsystemd, which would load libgcrypt, liblzma, libzstd and liblz4 with it
// (~0.8 MB of uplinkd's RSS) for these few lines.
ServiceNotifier::ServiceNotifier(TimeSource& time) : time_(time) {
  std::string path = env("NOTIFY_SOCKET");
  if (path.empty()) return;
  if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof(sockaddr_un::sun_path)) {
    get_logger("daemon")->warn("NOTIFY_SOCKET '{}' is not a unix socket path; no service notifications", path);
    return;
  }
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    get_logger("daemon")->warn("service notifications: socket: {}", std::strerror(errno));
    return;
  }
  path_ = path;
  active_ = true;
  // WATCHDOG_PID, when set, names the process the watchdog is meant for.
  std::string pid = env("WATCHDOG_PID");
  std::string usec_text = env("WATCHDOG_USEC");
  char* end = nullptr;
  unsigned long long usec = std::strtoull(usec_text.c_str(), &end, 10);
  bool for_us = pid.empty() || pid == std::to_string(::getpid());
  if (usec > 0 && end && *end == '\0' && for_us) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    watchdog_ = time_.make_timer();
  }
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

void ServiceNotifier::send(const std::string& msg) {
  if (!active_) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (path_[0] == '@') addr.sun_path[0] = '\0';
  // Abstract names are not NUL-terminated: the length says where they end.
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size() + (path_[0] == '@' ? 0 : 1));
  if (::sendto(fd_, msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len) < 0)
    get_logger("daemon")->warn("service notification '{}' to {} failed: {}", msg, path_, std::strerror(errno));
}

void ServiceNotifier::ready(const std::string& s) {
  send("READY=1\nSTATUS=" + s);
  if (watchdog_) kick();
}

void ServiceNotifier::status(const std::string& s) { send("STATUS=" + s); }
void ServiceNotifier::reloading() { send("RELOADING=1"); }

void ServiceNotifier::stopping() {
  if (watchdog_) watchdog_->cancel();
  send("STOPPING=1");
}

// The watchdog ping is sent from the io_context: a stalled event loop stops
// the pings and systemd restarts us, which is the point.
void ServiceNotifier::kick() {
  send("WATCHDOG=1");
  watchdog_->arm(watchdog_interval_, [this] { kick(); });
}

}  // namespace uplink
