#include "daemon/notifier.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace uplink {
namespace {

using namespace std::chrono_literals;

// A datagram socket standing in for systemd's notify socket (path or abstract).
class NotifySink {
 public:
  explicit NotifySink(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    bool abstract = name[0] == '@';
    if (abstract) a.sun_path[0] = '\0';
    else ::unlink(name.c_str());
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (abstract ? 0 : 1));
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0;
  }
  ~NotifySink() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  std::vector<std::string> received() {
    std::vector<std::string> out;
    char buf[512];
    for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;) out.emplace_back(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

class NotifierTest : public ::testing::Test {
 protected:
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  FakeTimeSource time;
};

TEST_F(NotifierTest, InertWithoutNotifySocket) {
  ::unsetenv("NOTIFY_SOCKET");
  ServiceNotifier n(time);
  EXPECT_FALSE(n.active());
  n.ready("x");  // nothing to send to, nothing armed
  EXPECT_EQ(time.next_deadline(), TimePoint::max());
}

TEST_F(NotifierTest, ReadyStatusReloadingStoppingToAPathSocket) {
  std::string path = "/tmp/uplinkd-notify-test-" + std::to_string(::getpid()) + ".sock";
  NotifySink sink(path);
  ASSERT_TRUE(sink.bound());
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ServiceNotifier n(time);
  ASSERT_TRUE(n.active());
  n.ready("4 links");
  n.status("reloaded");
  n.reloading();
  n.stopping();
  EXPECT_EQ(sink.received(),
            (std::vector<std::string>{"READY=1\nSTATUS=4 links", "STATUS=reloaded", "RELOADING=1", "STOPPING=1"}));
}

TEST_F(NotifierTest, WatchdogEveryHalfIntervalToAnAbstractSocket) {
  std::string name = "@uplinkd-notify-test-" + std::to_string(::getpid());
  NotifySink sink(name);
  ASSERT_TRUE(sink.bound());
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  ServiceNotifier n(time);
  n.ready("up");
  EXPECT_EQ(sink.received(), (std::vector<std::string>{"READY=1\nSTATUS=up", "WATCHDOG=1"}));
  time.advance(99ms);
  EXPECT_TRUE(sink.received().empty());
  time.advance(1ms);
  time.advance(100ms);
  EXPECT_EQ(sink.received(), (std::vector<std::string>{"WATCHDOG=1", "WATCHDOG=1"}));
  n.stopping();
  time.advance(1s);
  EXPECT_EQ(sink.received(), (std::vector<std::string>{"STOPPING=1"}));
}

TEST_F(NotifierTest, WatchdogMeantForAnotherProcessIsNotKicked) {
  std::string name = "@uplinkd-notify-test-other-" + std::to_string(::getpid());
  NotifySink sink(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  ServiceNotifier n(time);
  n.ready("up");
  time.advance(1s);
  EXPECT_EQ(sink.received(), (std::vector<std::string>{"READY=1\nSTATUS=up"}));
}

TEST_F(NotifierTest, NotASocketPathIsRefused) {
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  ServiceNotifier n(time);
  EXPECT_FALSE(n.active());
}

}  // namespace
}  // namespace uplink
