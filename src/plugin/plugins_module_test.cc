// The plugins module end to end inside one process: config through the
// section registry, real host processes, UDP and unix inputs, verbs, status,
// metrics and PluginEvent on the bus. Real time with bounded waits.
#include "plugin/plugins_module.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/ip/udp.hpp>
#include <filesystem>
#include <fstream>

#include "config/loader.h"
#include "config/section.h"
#include "control/protocol.h"

namespace fs = std::filesystem;

namespace uplink::plugin {
namespace {

struct Sink : MessageSink {
  std::vector<std::tuple<std::string, std::string, std::string>> msgs;  // class, topic, payload
  bool submit(std::string_view, std::string_view c, std::string_view t, std::string_view p) override {
    msgs.emplace_back(std::string(c), std::string(t), std::string(p));
    return true;
  }
  size_t count(std::string_view topic) const {
    return size_t(std::count_if(msgs.begin(), msgs.end(), [&](auto& m) { return std::get<1>(m) == topic; }));
  }
};

const SectionRegistry& registry() {
  static SectionRegistry r = [] {
    SectionRegistry reg;
    register_plugins_config(reg);
    return reg;
  }();
  return r;
}

uint16_t free_udp_port() {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

struct PluginsModuleTest : ::testing::Test {
  boost::asio::io_context io;
  AsioTimeSource time{io};
  EventBus bus;
  LinkTable links{time, bus};
  control::VerbRegistry verbs;
  Services services;
  Sink sink;
  PluginHostOptions host{UPLINK_PLUGIN_HOST, {}};
  std::unique_ptr<ModuleContext> ctx;
  std::unique_ptr<PluginsModule> mod;
  std::vector<nlohmann::json> events;
  std::string tmp;
  uint16_t port = free_udp_port();

  void SetUp() override {
    tmp = (fs::temp_directory_path() / ("plugins_module_test." + std::to_string(getpid()))).string();
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    services.provide(io);
    services.provide<MessageSink>(sink);
    services.provide(host);
    ctx = std::make_unique<ModuleContext>(
        ModuleContext{time, bus, links, verbs, services});
    mod = std::make_unique<PluginsModule>(*ctx);
    bus.subscribe_stream([this](const StreamRecord& r) {
      if (r.topic == "plugin") events.push_back(r.json);
    });
  }
  void TearDown() override {
    mod.reset();
    fs::remove_all(tmp);
  }
  Config config(const std::string& plugins) {
    return parse_config(R"([links.wan1]
interface = "eth1"
[links.wan1.probe]
targets = ["203.0.113.1"]
[policies.default]
members = [{ link = "wan1" }]
)" + plugins,
                        "m.toml", registry());
  }
  std::string plugin_toml(const std::string& extra = "") {
    return "[plugins.t]\npath = \"" + std::string(UPLINK_TESTPLUGIN_DIR) + "/misbehave.so\"\nclass = \"alarm\"\n" +
           "inputs = [\"udp://127.0.0.1:" + std::to_string(port) + "\", \"unix://" + tmp + "/in.sock\"]\n" +
           "heartbeat_timeout = \"1s\"\nmodel_dir = \"" + tmp + "/models\"\n" + extra +
           "[plugins.t.config]\necho = 1\n";
  }
  bool run_until(const std::function<bool()>& pred, Duration limit) {
    auto deadline = SteadyClock::now() + limit;
    while (!pred()) {
      if (SteadyClock::now() > deadline) return false;
      io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  size_t count(const std::string& event) const {
    return size_t(std::count_if(events.begin(), events.end(), [&](auto& e) { return e["event"] == event; }));
  }
  control::Reply verb(const std::string& line) {
    auto req = control::parse_request(line, &verbs);
    if (!req) return control::Reply::failure("parse: " + req.error().message);
    return verbs.find(req->cmd)->handler(*req);
  }
  void send_udp(const std::string& text) {
    boost::asio::ip::udp::socket s(io, boost::asio::ip::udp::v4());
    s.send_to(boost::asio::buffer(text),
              boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  }
};

TEST_F(PluginsModuleTest, RunsAConfiguredPluginFedByUdpAndUnixInputs) {
  Config c = config(plugin_toml());
  ASSERT_TRUE(mod->apply(c, {}));
  ASSERT_TRUE(run_until([&] { return count("ready") == 1; }, 3s));
  send_udp("{\"stream\":\"udp1\",\"ts\":1.5,\"value\":7}\nnot json\n{\"stream\":\"udp1\",\"value\":8}\n");
  {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, (tmp + "/in.sock").c_str());
    ASSERT_EQ(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    std::string lines = "{\"stream\":\"unix1\",\"value\":1}\n{\"value\":2}\n{\"stream\":\"unix1\",\"value\":3}\n";
    ASSERT_EQ(write(s, lines.data(), lines.size()), ssize_t(lines.size()));
    close(s);
  }
  ASSERT_TRUE(run_until([&] { return sink.count("echo/udp1") == 2 && sink.count("echo/unix1") == 2; }, 3s));
  EXPECT_EQ(std::get<0>(sink.msgs.back()), "alarm");

  auto r = verb(R"({"cmd":"plugins","argv":[],"json":true})");
  ASSERT_TRUE(r.ok) << r.error;
  auto& p = r.result["plugins"][0];
  EXPECT_EQ(p["name"], "t");
  EXPECT_EQ(p["state"], "running");
  EXPECT_EQ(p["samples_in"], 4);
  uint64_t bad = 0;
  for (auto& in : p["inputs"]) bad += in["bad_lines"].get<uint64_t>();
  EXPECT_EQ(bad, 2u);
  EXPECT_NE(r.result["text"].get<std::string>().find("running"), std::string::npos);

  nlohmann::json status;
  mod->add_status(status);
  EXPECT_EQ(status["plugins"][0]["name"], "t");
  std::string metrics;
  mod->add_metrics(metrics);
  EXPECT_NE(metrics.find("uplink_plugin_up{plugin=\"t\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("uplink_plugin_samples_in_total{plugin=\"t\"} 4"), std::string::npos);
  EXPECT_NE(metrics.find("uplink_plugin_input_bad_lines_total"), std::string::npos);
}

TEST_F(PluginsModuleTest, VerbsRestartInstallAndRollBackModels) {
  Config c = config(plugin_toml());
  ASSERT_TRUE(mod->apply(c, {}));
  ASSERT_TRUE(run_until([&] { return count("ready") == 1; }, 3s));

  auto r = verb(R"({"cmd":"plugin","argv":["t","restart"],"json":true})");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(run_until([&] { return count("ready") == 2; }, 3s));

  std::ofstream(tmp + "/a.model") << "ok a";
  std::ofstream(tmp + "/b.model") << "ok b";
  r = verb(R"({"cmd":"plugin","argv":["t","model","install",")" + tmp + R"(/a.model"],"json":true})");
  ASSERT_TRUE(r.ok) << r.error;
  std::string va = r.result["model_version"];
  ASSERT_TRUE(run_until([&] { return count("model_loaded") == 1; }, 3s));
  r = verb(R"({"cmd":"plugin","argv":["t","model","install",")" + tmp + R"(/b.model"],"json":true})");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(run_until([&] { return count("model_loaded") == 2; }, 3s));
  r = verb(R"({"cmd":"plugin","argv":["t","model","rollback"],"json":true})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.result["model_version"], va);
  ASSERT_TRUE(run_until([&] { return count("model_loaded") == 3; }, 3s));
  EXPECT_EQ(count("model_installed"), 2u);
  EXPECT_EQ(count("model_rolled_back"), 1u);

  EXPECT_FALSE(verb(R"({"cmd":"plugin","argv":["t","model","install","relative.model"],"json":true})").ok);
  EXPECT_FALSE(verb(R"({"cmd":"plugin","argv":["nope","restart"],"json":true})").ok);
  EXPECT_FALSE(verb(R"({"cmd":"plugin","argv":["t","dance"],"json":true})").ok);
  auto bad = verb(R"({"cmd":"plugin","argv":["t","model","install",")" + tmp + R"(/missing"],"json":true})");
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(count("model_rejected"), 1u);
}

TEST_F(PluginsModuleTest, ApplyIsAllOrNothingAndRemovalStopsThePlugin) {
  // The UDP port is taken by someone else: nothing starts.
  boost::asio::ip::udp::socket squatter(io, boost::asio::ip::udp::endpoint(
                                                boost::asio::ip::make_address("127.0.0.1"), port));
  Config c = config(plugin_toml());
  auto r = mod->apply(c, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("plugins.t: input udp://127.0.0.1:"), std::string::npos) << r.error().message;
  EXPECT_EQ(mod->runner("t"), nullptr);
  squatter.close();

  ASSERT_TRUE(mod->apply(c, {}));
  ASSERT_TRUE(run_until([&] { return count("ready") == 1; }, 3s));
  pid_t pid = mod->runner("t")->pid();
  ASSERT_TRUE(mod->apply(config(""), {}));
  EXPECT_EQ(mod->runner("t"), nullptr);
  EXPECT_NE(kill(pid, 0), 0) << "the host must be gone (killed and reaped)";
}

TEST_F(PluginsModuleTest, LinkStateDrivesConnectivity) {
  links.add("wan1", true, "start");
  links.report_verdict("wan1", LinkState::up, "probes_ok");
  ASSERT_TRUE(mod->apply(config(plugin_toml()), {}));
  ASSERT_TRUE(run_until([&] { return sink.count("connectivity") == 1; }, 3s));
  links.report_verdict("wan1", LinkState::down, "probe_timeout");
  ASSERT_TRUE(run_until([&] { return sink.count("connectivity") == 2; }, 3s));
  EXPECT_EQ(std::get<2>(sink.msgs.back()), "offline");
}

TEST_F(PluginsModuleTest, EventsAreStreamedWithTheirWireForm) {
  ASSERT_TRUE(mod->apply(config(plugin_toml("")), {}));
  ASSERT_TRUE(run_until([&] { return count("ready") == 1; }, 3s));
  ASSERT_FALSE(events.empty());
  auto& e = events.front();
  for (const char* k : {"ts", "plugin", "event", "cause", "detail", "pid", "restarts", "model_version"})
    EXPECT_TRUE(e.contains(k)) << k;
  EXPECT_EQ(e["event"], "started");
}

}  // namespace
}  // namespace uplink::plugin
