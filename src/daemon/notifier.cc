#include "daemon/notifier.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace uplink {

ServiceNotifier::ServiceNotifier(TimeSource& time) : time_(time) {
  const char* sock = std::getenv("NOTIFY_SOCKET");
  active_ = sock && *sock;
  if (!active_) return;
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    watchdog_ = time_.make_timer();
  }
}

void ServiceNotifier::send(const std::string& msg) {
  if (!active_) return;
  int rc = sd_notify(0, msg.c_str());
  if (rc < 0) get_logger("daemon")->warn("sd_notify({}) failed: {}", msg, std::strerror(-rc));
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
