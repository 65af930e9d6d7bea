#pragma once
// systemd service notifications (sd_notify): READY=1 once the control socket
// listens, STATUS=..., RELOADING/STOPPING, and WATCHDOG=1 every
// WATCHDOG_USEC/2. Inert unless NOTIFY_SOCKET is set (not run by systemd).
// The protocol is spoken directly (notifier.cc says why).
#include <memory>
#include <string>

#include "common/clock.h"

namespace uplink {

class ServiceNotifier {
 public:
  explicit ServiceNotifier(TimeSource& time);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;
  bool active() const { return active_; }
  void ready(const std::string& status);
  void status(const std::string& status);
  void reloading();
  void stopping();

 private:
  void send(const std::string& msg);
  void kick();

  TimeSource& time_;
  bool active_ = false;
  int fd_ = -1;
  std::string path_;  // $NOTIFY_SOCKET
  Duration watchdog_interval_{0};
  std::unique_ptr<Timer> watchdog_;
};

}  // namespace uplink
