// Scenario: the uplink against a real mosquitto on 127.0.0.1 (a random high
// port in the root namespace's loopback; nothing leaves the machine).
//
//   producer --uplink.sock--> uplink_node (the module, its own process) --MQTT 5--> mosquitto --> subscriber (this test)
//
// Checks: messages published while the broker is down arrive after it
// returns; kill -9 of the process holding the queue (during the outage and
// again during the replay) loses no acknowledged message; every message
// arrives with the id its producer was given, distinct messages have
// distinct ids (repeats carry the same id).
// Every wait is bounded; everything lives under a per-run scratch directory;
// only processes started here are signalled, by PID.
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "uplink/broker_test_support.h"
#include "uplink/test_support.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

using testing::Child;
using testing::free_port;
using testing::port_open;
using testing::wait_for;

// An MQTT 5 subscriber with a persistent session (it keeps its queue at the
// broker across broker restarts); records each message's payload and id.
class Subscriber {
 public:
  explicit Subscriber(int port) {
    mosquitto_lib_init();
    std::string id = "uplink-test-sub-" + std::to_string(getpid());
    m_ = mosquitto_new(id.c_str(), /*clean_session=*/false, this);
    mosquitto_int_option(m_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(m_, [](mosquitto* m, void*, int rc, int, const mosquitto_property*) {
      if (rc == 0) mosquitto_subscribe_v5(m, nullptr, "uplinkd/#", 1, 0, nullptr);
    });
    mosquitto_subscribe_v5_callback_set(m_, [](mosquitto*, void* self, int, int, const int*, const mosquitto_property*) {
      static_cast<Subscriber*>(self)->subscribed_ = true;
    });
    mosquitto_message_v5_callback_set(
        m_, [](mosquitto*, void* self, const mosquitto_message* msg, const mosquitto_property* props) {
          auto* s = static_cast<Subscriber*>(self);
          char *name = nullptr, *value = nullptr;
          uint64_t id = 0;
          for (const mosquitto_property* p = props; p;) {
            p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, false);
            if (!p) break;
            if (name && std::string(name) == "id" && value) id = std::stoull(value);
            free(name);
            free(value);
            name = value = nullptr;
            p = mosquitto_property_next(p);
          }
          std::lock_guard lock(s->mu_);
          s->got_[std::string(static_cast<const char*>(msg->payload), size_t(msg->payloadlen))].insert(id);
          ++s->messages_;
        });
    mosquitto_property* props = nullptr;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 3600);
    mosquitto_reconnect_delay_set(m_, 1, 1, false);
    mosquitto_connect_bind_v5(m_, "127.0.0.1", port, 10, nullptr, props);
    mosquitto_property_free_all(&props);
    mosquitto_loop_start(m_);
  }
  ~Subscriber() {
    mosquitto_disconnect(m_);
    mosquitto_loop_stop(m_, true);
    mosquitto_destroy(m_);
  }
  bool subscribed() const { return subscribed_; }
  std::map<std::string, std::set<uint64_t>> got() {
    std::lock_guard lock(mu_);
    return got_;
  }
  size_t messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  mosquitto* m_;
  std::atomic<bool> subscribed_{false};
  std::mutex mu_;
  std::map<std::string, std::set<uint64_t>> got_;
  size_t messages_ = 0;
};

// Sends `n` messages "PREFIX-k" over uplink.sock; returns payload -> acknowledged id.
std::map<std::string, uint64_t> produce(const std::string& sock, const std::string& prefix, int n) {
  std::map<std::string, uint64_t> acked;
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return acked;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  for (int k = 0; k < n; ++k)
    out += "{\"class\":\"" + std::string(k % 5 ? "telemetry" : "alarm") + "\",\"payload\":\"" + prefix + "-" +
           std::to_string(k) + "\"}\n";
  size_t off = 0;
  while (off < out.size()) {
    ssize_t w = ::write(fd, out.data() + off, out.size() - off);
    if (w <= 0) break;
    off += size_t(w);
  }
  std::string in;
  int lines = 0;
  while (lines < n) {
    char buf[8192];
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) break;
    in.append(buf, size_t(r));
    size_t nl;
    while ((nl = in.find('\n')) != std::string::npos) {
      std::string line = in.substr(0, nl);
      in.erase(0, nl + 1);
      auto at = line.find("\"id\":");
      if (line.rfind("{\"ok\":true", 0) == 0 && at != std::string::npos)
        acked[prefix + "-" + std::to_string(lines)] = std::stoull(line.substr(at + 5));
      ++lines;
    }
  }
  ::close(fd);
  return acked;
}

class UplinkBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port = free_port();
    // mosquitto started as root drops to user "mosquitto": its persistence
    // directory must be writable by that user.
    std::filesystem::create_directories(dir.sub("broker"));
    std::filesystem::permissions(dir.sub("broker"), std::filesystem::perms::all);
    std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_all | std::filesystem::perms::others_exec |
                                                 std::filesystem::perms::group_exec);
    std::ofstream(dir.sub("mosquitto.conf")) << "listener " << port << " 127.0.0.1\n"
                                             << "allow_anonymous true\npersistence true\n"
                                             << "persistence_location " << dir.sub("broker") << "/\n";
    std::ofstream(dir.sub("uplink.toml"))
        << "[links.wan1]\ninterface = \"lo\"\n[links.wan1.probe]\ntargets = [\"127.0.0.1\"]\n"
        << "[policies.default]\nmembers = [{ link = \"wan1\" }]\n\n"
        << "[uplink]\nbroker = \"mqtt://127.0.0.1:" << port << "\"\nclient_id = \"node-" << getpid() << "\"\n"
        << "socket = \"" << dir.sub("uplink.sock") << "\"\nreconnect_min = \"100ms\"\nreconnect_max = \"500ms\"\n"
        << "keepalive = \"5s\"\n[uplink.queue]\npath = \"" << dir.sub("q") << "\"\nreplay_rate = 300\n";
  }
  void start_broker() {
    broker.start({testing::kMosquitto, "-c", dir.sub("mosquitto.conf")}, dir.sub("mosquitto.log"));
    ASSERT_TRUE(wait_for([&] { return port_open(port); }, 5s)) << "mosquitto did not start";
  }
  void start_node() {
    std::filesystem::remove(dir.sub("uplink.sock"));
    node.start({UPLINK_NODE_BIN, dir.sub("uplink.toml")}, dir.sub("node.log"));
    ASSERT_TRUE(wait_for([&] { return std::filesystem::exists(dir.sub("uplink.sock")); }, 5s))
        << "uplink_node did not start";
  }
  // Every acknowledged message arrived, with its id; distinct messages have distinct ids.
  void expect_all_delivered(const std::map<std::string, uint64_t>& acked, std::chrono::milliseconds limit) {
    bool all = wait_for(
        [&] {
          auto got = sub->got();
          for (const auto& [payload, id] : acked)
            if (!got.count(payload)) return false;
          return true;
        },
        limit);
    auto got = sub->got();
    size_t missing = 0;
    std::map<std::string, int> missing_by_prefix;
    for (const auto& [payload, id] : acked) {
      auto it = got.find(payload);
      if (it == got.end()) {
        ++missing;
        ++missing_by_prefix[payload.substr(0, payload.find('-'))];
        continue;
      }
      EXPECT_EQ(it->second, (std::set<uint64_t>{id})) << payload << " arrived with another id";
    }
    EXPECT_TRUE(all) << missing << " of " << acked.size() << " acknowledged messages never arrived";
    for (const auto& [prefix, n] : missing_by_prefix) ADD_FAILURE() << n << " missing of " << prefix;
    if (!all) {
      std::ifstream f(dir.sub("node.log"));
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      ADD_FAILURE() << "node.log:\n" << text.substr(text.size() > 6000 ? text.size() - 6000 : 0);
      std::ifstream b(dir.sub("mosquitto.log"));
      std::string btext((std::istreambuf_iterator<char>(b)), std::istreambuf_iterator<char>());
      ADD_FAILURE() << "subscriber saw " << sub->messages() << " messages; mosquitto.log:\n"
                    << btext.substr(btext.size() > 8000 ? btext.size() - 8000 : 0);
    }
    std::map<uint64_t, std::string> by_id;
    for (const auto& [payload, ids] : got)
      for (uint64_t id : ids) {
        auto [it, fresh] = by_id.emplace(id, payload);
        EXPECT_TRUE(fresh || it->second == payload) << "id " << id << " used by two messages";
      }
  }

  testing::ScratchDir dir;
  int port = 0;
  Child broker, node;
  std::unique_ptr<Subscriber> sub;
};

TEST_F(UplinkBrokerTest, OutageAndKill9LoseNoAcknowledgedMessage) {
  start_broker();
  sub = std::make_unique<Subscriber>(port);
  ASSERT_TRUE(wait_for([&] { return sub->subscribed(); }, 5s));
  start_node();

  std::map<std::string, uint64_t> acked = produce(dir.sub("uplink.sock"), "live", 100);
  ASSERT_EQ(acked.size(), 100u);
  expect_all_delivered(acked, 10s);

  // The broker goes away: producers are still acknowledged (the store holds them).
  broker.kill(SIGTERM);
  auto during = produce(dir.sub("uplink.sock"), "outage", 300);
  ASSERT_EQ(during.size(), 300u);
  acked.insert(during.begin(), during.end());

  // kill -9 of the process holding the queue during the outage.
  node.kill(SIGKILL);
  start_node();
  auto after = produce(dir.sub("uplink.sock"), "restarted", 100);
  ASSERT_EQ(after.size(), 100u);
  acked.insert(after.begin(), after.end());

  // The broker returns; replay (300 msg/s) is under way when we kill -9 again.
  start_broker();
  size_t before = sub->messages();
  ASSERT_TRUE(wait_for([&] { return sub->messages() >= before + 50; }, 15s)) << "replay did not start";
  node.kill(SIGKILL);
  start_node();
  auto last = produce(dir.sub("uplink.sock"), "final", 50);
  ASSERT_EQ(last.size(), 50u);
  acked.insert(last.begin(), last.end());

  expect_all_delivered(acked, 30s);
  // Ids keep growing across the restarts: the last batch is above everything before it.
  uint64_t max_before = 0;
  for (const auto& [p, id] : acked)
    if (p.rfind("final", 0) != 0) max_before = std::max(max_before, id);
  for (const auto& [p, id] : last) EXPECT_GT(id, max_before);
  node.kill(SIGTERM);
  broker.kill(SIGTERM);
}

}  // namespace
}  // namespace uplink
