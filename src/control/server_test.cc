// The server over real unix sockets in a temp dir, with fake time for the
// read deadline. The io_context is pumped by hand; no test sleeps.
#include "control/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

namespace uplink::control {
namespace {

class EchoHandler : public RequestHandler {
 public:
  Reply handle(const Request& r) override {
    ++calls;
    if (r.cmd == "events") return r.flag("follow") ? Reply::follow(Json{{"following", true}}) : Reply::success(Json::array());
    if (r.cmd == "link.show") return Reply::failure("no such link '" + r.str("name") + "'");
    return Reply::success(Json{{"cmd", r.cmd}});
  }
  int calls = 0;
};

class AllowAll : public PeerPolicy {
 public:
  std::optional<std::string> check(const PeerCred&) const override { return std::nullopt; }
  std::optional<std::string> check_change(const PeerCred&) const override { return std::nullopt; }
};
class DenyAll : public PeerPolicy {
 public:
  std::optional<std::string> check(const PeerCred& p) const override {
    return "permission denied: uid " + std::to_string(p.uid);
  }
  std::optional<std::string> check_change(const PeerCred&) const override { return "never asked"; }
};
// Connects and reads; changes nothing.
class ReadOnly : public PeerPolicy {
 public:
  std::optional<std::string> check(const PeerCred&) const override { return std::nullopt; }
  std::optional<std::string> check_change(const PeerCred& p) const override {
    return "needs root; uid " + std::to_string(p.uid) + " may only read";
  }
};

// A raw non-blocking client socket.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& s) { ASSERT_EQ(::write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  // Reads what is available; false once the peer closed.
  bool drain() {
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        in_.append(buf, n);
        continue;
      }
      if (n == 0) eof_ = true;
      return !eof_;
    }
  }
  std::optional<std::string> line() {
    drain();
    auto nl = in_.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    std::string l = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    return l;
  }
  bool eof() {
    drain();
    return eof_;
  }
  void set_rcvbuf(int bytes) { ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes); }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string in_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uplink-control-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    opts_.path = dir_ + "/run/control.sock";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start() { start(allow_); }
  void start(const PeerPolicy& peers) {
    server_ = std::make_unique<ControlServer>(io_, time_, handler_, peers, opts_);
    auto r = server_->start();
    ASSERT_TRUE(r) << r.error().message;
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
  // Runs whatever becomes ready within a few milliseconds (bounded).
  void settle() {
    for (int i = 0; i < 20; ++i) {
      io_.run_one_for(std::chrono::milliseconds(1));
      io_.restart();
    }
  }
  std::string await_line(Client& c) {
    std::optional<std::string> l;
    EXPECT_TRUE(pump([&] { return (l = c.line()).has_value(); })) << "no line arrived";
    return l.value_or("");
  }

  std::string dir_;
  boost::asio::io_context io_;
  FakeTimeSource time_;
  EchoHandler handler_;
  AllowAll allow_;
  ServerOptions opts_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ServerTest, CreatesSocketWithMode0660AndRemovesItOnStop) {
  start();
  struct stat st {};
  ASSERT_EQ(::stat(opts_.path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  struct stat dst {};
  ASSERT_EQ(::stat((dir_ + "/run").c_str(), &dst), 0);
  EXPECT_EQ(dst.st_mode & 0777, 0755u);
  server_->stop();
  EXPECT_FALSE(std::filesystem::exists(opts_.path));
}

TEST_F(ServerTest, RequestResponse) {
  start();
  Client c(opts_.path);
  ASSERT_TRUE(c.connected());
  c.send("{\"cmd\":\"status\"}\n");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"status"}})");
  c.send("{\"cmd\":\"link.show\",\"name\":\"wan9\"}\n");
  EXPECT_EQ(await_line(c), R"({"error":"no such link 'wan9'","ok":false})");
}

TEST_F(ServerTest, AReaderReadsButAChangeIsRefusedWithoutReachingTheHandler) {
  ReadOnly readers;
  start(readers);
  Client c(opts_.path);
  ASSERT_TRUE(c.connected());
  c.send("{\"cmd\":\"status\"}\n");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"status"}})");
  int before = handler_.calls;
  c.send("{\"cmd\":\"reload\"}\n");
  std::string uid = std::to_string(::getuid());
  EXPECT_EQ(await_line(c), R"({"error":"permission denied: 'reload' needs root; uid )" + uid +
                               R"( may only read","ok":false})");
  c.send("{\"cmd\":\"link.set\",\"name\":\"wan1\",\"set\":{\"enabled\":false}}\n");
  EXPECT_NE(await_line(c).find("permission denied: 'link.set'"), std::string::npos);
  EXPECT_EQ(handler_.calls, before);
  // The refusal is per request: the connection still serves reads.
  c.send("{\"cmd\":\"metrics\"}\n");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"metrics"}})");
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  Client c(opts_.path);
  c.send("{\"cmd\":\"ping\"}\n{\"cmd\":\"status\"}\n{\"cmd\":\"links\"}\n");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"ping"}})");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"status"}})");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"links"}})");
}

TEST_F(ServerTest, GarbageGetsAnErrorAndTheConnectionStaysUsable) {
  start();
  Client c(opts_.path);
  c.send("not json\n");
  EXPECT_EQ(await_line(c), R"({"error":"invalid request: not valid JSON","ok":false})");
  c.send("{\"cmd\":\"ping\"}\n");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"ping"}})");
  EXPECT_EQ(handler_.calls, 1);
}

TEST_F(ServerTest, OversizedRequestIsRejectedAndClosed) {
  start();
  Client c(opts_.path);
  std::string big = "{\"cmd\":\"status\",\"x\":\"" + std::string(kMaxRequestBytes + 10, 'a');
  c.send(big);
  std::string l = await_line(c);
  EXPECT_NE(l.find("request too large"), std::string::npos) << l;
  EXPECT_TRUE(pump([&] { return c.eof(); }));
  EXPECT_EQ(handler_.calls, 0);
}

TEST_F(ServerTest, IncompleteRequestTimesOut) {
  start();
  Client c(opts_.path);
  c.send("{\"cmd\":\"sta");
  settle();  // the server reads the partial line
  EXPECT_EQ(server_->connections(), 1u);
  time_.advance(opts_.read_timeout - 1ms);
  settle();
  EXPECT_FALSE(c.line().has_value());
  EXPECT_FALSE(c.eof());
  time_.advance(1ms);
  std::string l = await_line(c);
  EXPECT_NE(l.find("timeout"), std::string::npos) << l;
  EXPECT_TRUE(pump([&] { return c.eof(); }));
  EXPECT_TRUE(pump([&] { return server_->connections() == 0; }));
}

TEST_F(ServerTest, SlowFollowerIsDroppedWithoutStallingOthers) {
  opts_.max_queued_bytes = 64 * 1024;
  start();
  Client slow(opts_.path);
  slow.set_rcvbuf(4096);
  slow.send("{\"cmd\":\"events\",\"follow\":true}\n");
  EXPECT_EQ(await_line(slow), R"({"ok":true,"result":{"following":true}})");
  ASSERT_EQ(server_->followers(), 1u);

  // The slow client never reads again. Publish until the kernel buffers and
  // the queue cap are exhausted; the server must drop it, not block.
  Json ev{{"link", "wan1"}, {"pad", std::string(1000, 'p')}};
  int published = 0;
  while (server_->followers() == 1 && published < 10000) {
    server_->publish(ev);
    ++published;
    io_.poll();
    io_.restart();
  }
  EXPECT_EQ(server_->followers(), 0u) << "slow follower still connected after " << published << " events";

  // Meanwhile another client is served normally.
  Client fast(opts_.path);
  fast.send("{\"cmd\":\"status\"}\n");
  EXPECT_EQ(await_line(fast), R"({"ok":true,"result":{"cmd":"status"}})");
}

TEST_F(ServerTest, FollowerReceivesEvents) {
  start();
  Client f(opts_.path);
  f.send("{\"cmd\":\"events\",\"follow\":true}\n");
  await_line(f);
  ASSERT_TRUE(pump([&] { return server_->followers() == 1; }));
  server_->publish(Json{{"link", "wan1"}, {"to", "down"}});
  EXPECT_EQ(await_line(f), R"({"link":"wan1","to":"down"})");
  // Follow mode never times out, even after long silence.
  time_.advance(1h);
  server_->publish(Json{{"link", "wan1"}, {"to", "up"}});
  EXPECT_EQ(await_line(f), R"({"link":"wan1","to":"up"})");
}

TEST_F(ServerTest, ConnectionLimit) {
  opts_.max_connections = 2;
  start();
  Client a(opts_.path), b(opts_.path);
  ASSERT_TRUE(pump([&] { return server_->connections() == 2; }));
  Client c(opts_.path);
  std::string l = await_line(c);
  EXPECT_NE(l.find("too many connections"), std::string::npos) << l;
  EXPECT_TRUE(pump([&] { return c.eof(); }));
  // The first two still work.
  a.send("{\"cmd\":\"ping\"}\n");
  EXPECT_EQ(await_line(a), R"({"ok":true,"result":{"cmd":"ping"}})");
}

TEST_F(ServerTest, RefusedPeerGetsErrorAndClose) {
  DenyAll deny;
  start(deny);
  Client c(opts_.path);
  std::string l = await_line(c);
  EXPECT_NE(l.find("permission denied: uid"), std::string::npos) << l;
  EXPECT_TRUE(pump([&] { return c.eof(); }));
  EXPECT_EQ(handler_.calls, 0);
}

TEST_F(ServerTest, RemovesStaleSocket) {
  std::filesystem::create_directories(dir_ + "/run");
  // A socket file nobody listens on: what a crashed daemon leaves behind.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, opts_.path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(fd);
  ASSERT_TRUE(std::filesystem::exists(opts_.path));
  start();
  Client c(opts_.path);
  c.send("{\"cmd\":\"ping\"}\n");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"ping"}})");
}

TEST_F(ServerTest, RefusesToStartWhenAnotherServerAnswers) {
  start();
  ControlServer second(io_, time_, handler_, allow_, opts_);
  auto r = second.start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("another process (uplinkd?) is answering on " + opts_.path), std::string::npos);
  // The first one's socket is untouched.
  Client c(opts_.path);
  c.send("{\"cmd\":\"ping\"}\n");
  EXPECT_EQ(await_line(c), R"({"ok":true,"result":{"cmd":"ping"}})");
}

TEST_F(ServerTest, RefusesToReplaceANonSocket) {
  std::filesystem::create_directories(dir_ + "/run");
  { std::ofstream(opts_.path) << "precious"; }
  ControlServer s(io_, time_, handler_, allow_, opts_);
  auto r = s.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "control socket: " + opts_.path + " exists and is not a socket; refusing to replace it");
  EXPECT_TRUE(std::filesystem::exists(opts_.path));
}

TEST(GroupPeerPolicy, RootSelfAndOthers) {
  GroupPeerPolicy p(1000, std::nullopt);
  EXPECT_FALSE(p.check({1, 0, 0}));
  EXPECT_FALSE(p.check({1, 1000, 1000}));
  auto refused = p.check({1, 1001, 1001});
  ASSERT_TRUE(refused);
  EXPECT_EQ(*refused, "permission denied: uid 1001 is not root; closing the connection");
  GroupPeerPolicy g(1000, 4242);
  EXPECT_FALSE(g.check({1, 1001, 4242}));  // primary group matches
}

TEST(PeerCredentials, AConnectedPeerShowsItsUidGidAndSupplementaryGroups) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto cred = peer_credentials(sv[0]);
  ::close(sv[0]);
  ::close(sv[1]);
  ASSERT_TRUE(cred) << cred.error().message;
  EXPECT_EQ(cred->pid, ::getpid());
  EXPECT_EQ(cred->uid, ::geteuid());
  EXPECT_EQ(cred->gid, ::getegid());
  std::vector<gid_t> mine(::getgroups(0, nullptr));
  mine.resize(::getgroups(static_cast<int>(mine.size()), mine.data()));
  std::sort(mine.begin(), mine.end());
  std::vector<gid_t> seen = cred->groups;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, mine);
}

TEST(GroupPeerPolicy, TheSocketGroupReadsOnlyTheAdminGroupChanges) {
  GroupPeerPolicy p(1000, 4242, 4343);
  // root and the daemon's own uid do everything
  EXPECT_FALSE(p.check_change({1, 0, 0}));
  EXPECT_FALSE(p.check_change({1, 1000, 1000}));
  // the socket group connects and reads, but may not change
  EXPECT_FALSE(p.check({1, 1001, 4242}));
  auto refused = p.check_change({1, 1001, 4242});
  ASSERT_TRUE(refused);
  EXPECT_EQ(*refused,
            "changes uplinkd's state, which needs root or a member of daemon.admin_group (gid 4343); "
            "uid 1001 may only read");
  // the admin group connects (without being in the socket group) and changes
  EXPECT_FALSE(p.check({1, 1002, 4343}));
  EXPECT_FALSE(p.check_change({1, 1002, 4343}));
  // anyone else does not even connect
  auto out = p.check({1, 1003, 1003});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out,
            "permission denied: uid 1003 is not root nor a member of the control socket's group (gid 4242) nor of "
            "daemon.admin_group (gid 4343); closing the connection");
  // supplementary groups the peer process holds count (SO_PEERGROUPS)
  EXPECT_FALSE(p.check({1, 1004, 1004, {17, 4242}}));
  EXPECT_TRUE(p.check_change({1, 1004, 1004, {17, 4242}}));
  EXPECT_FALSE(p.check_change({1, 1004, 1004, {4343}}));
  // without an admin group only root changes state
  GroupPeerPolicy q(1000, 4242);
  EXPECT_EQ(*q.check_change({1, 1001, 4242}),
            "changes uplinkd's state, which needs root (no daemon.admin_group is configured); uid 1001 may only read");
}

}  // namespace
}  // namespace uplink::control
