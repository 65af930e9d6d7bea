// The plugin through its C ABI table, with a fake host.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <uplink/plugin.h>

namespace {

struct Msg {
  std::string cls, topic, payload;
};
struct Fake {
  uplink_host host{};
  std::vector<Msg> msgs;
  std::vector<std::string> logs;
  int full = 0;  // next N publishes answer UPLINK_EFULL
};

Fake* fake_of(const uplink_host* h) { return static_cast<Fake*>(h->host_data); }

int fake_publish(const uplink_host* h, const char* cls, const char* topic, const void* p, size_t n) {
  Fake* f = fake_of(h);
  if (f->full > 0) {
    --f->full;
    return UPLINK_EFULL;
  }
  f->msgs.push_back({cls ? cls : "", topic, std::string(static_cast<const char*>(p), n)});
  return UPLINK_OK;
}
void fake_log(const uplink_host* h, int, const char* m) { fake_of(h)->logs.push_back(m); }
int64_t fake_ns(const uplink_host*) { return 0; }

void init(Fake& f) {
  f.host.abi_version = UPLINK_PLUGIN_ABI_VERSION;
  f.host.struct_size = sizeof(uplink_host);
  f.host.plugin_name = "anomaly";
  f.host.publish = fake_publish;
  f.host.log = fake_log;
  f.host.monotonic_ns = fake_ns;
  f.host.wall_ns = fake_ns;
  f.host.host_data = &f;
}

std::vector<uplink_sample> series(const char* stream, int n, int spike_at) {
  std::vector<uplink_sample> v;
  for (int i = 0; i < n; ++i) {
    const double x = 50 + 20 * std::sin(2 * 3.14159265358979 * i / 288.0) + (i == spike_at ? 90 : 0);
    v.push_back({stream, 1388534400.0 + i * 300.0, x});
  }
  return v;
}

TEST(AnomalyPlugin, TableIsComplete) {
  const uplink_plugin* t = uplink_plugin_entry();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->abi_version, UPLINK_PLUGIN_ABI_VERSION);
  EXPECT_EQ(t->struct_size, sizeof(uplink_plugin));
  EXPECT_GE(t->struct_size, UPLINK_PLUGIN_MIN_SIZE);
  EXPECT_STREQ(t->name, "anomaly");
  EXPECT_TRUE(t->create && t->destroy && t->on_samples && t->on_connectivity && t->load_model && t->poll);
}

TEST(AnomalyPlugin, AnAnomalyBecomesOneAlarmMessage) {
  Fake f;
  init(f);
  const uplink_plugin* t = uplink_plugin_entry();
  char err[256] = "";
  void* inst = t->create(&f.host, R"({"cooldown_s": 3600})", err, sizeof err);
  ASSERT_NE(inst, nullptr) << err;
  auto s = series("boiler/temp", 3000, 2500);
  // Two learning days first (alarms there, if any, are not checked).
  ASSERT_EQ(t->on_samples(inst, s.data(), 600), UPLINK_OK);
  f.msgs.clear();
  f.full = 1;  // the alarm finds the host's buffer full: it is kept and sent from poll()
  ASSERT_EQ(t->on_samples(inst, s.data() + 600, s.size() - 600), UPLINK_OK);
  EXPECT_TRUE(f.msgs.empty());
  t->poll(inst);
  ASSERT_EQ(f.msgs.size(), 1u);
  EXPECT_EQ(f.msgs[0].cls, "alarm");
  EXPECT_EQ(f.msgs[0].topic, "anomaly/boiler/temp");
  const auto j = nlohmann::json::parse(f.msgs[0].payload);
  EXPECT_EQ(j["stream"], "boiler/temp");
  EXPECT_DOUBLE_EQ(j["ts"].get<double>(), 1388534400.0 + 2500 * 300.0);
  EXPECT_TRUE(j.contains("score"));
  EXPECT_TRUE(j.contains("value"));
  EXPECT_TRUE(j["context"].is_array());

  t->on_connectivity(inst, UPLINK_OFFLINE);
  ASSERT_EQ(f.msgs.size(), 2u);
  EXPECT_EQ(f.msgs[1].topic, "anomaly/state");
  EXPECT_EQ(nlohmann::json::parse(f.msgs[1].payload)["online"], false);
  t->destroy(inst);
}

TEST(AnomalyPlugin, BadConfigIsRefusedWithAMessage) {
  Fake f;
  init(f);
  const uplink_plugin* t = uplink_plugin_entry();
  char err[256] = "";
  EXPECT_EQ(t->create(&f.host, R"({"treshold": 0.5})", err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("unknown config key 'treshold'"), std::string::npos) << err;
  EXPECT_EQ(t->create(&f.host, R"({"threshold": 7})", err, sizeof err), nullptr);
  EXPECT_EQ(t->create(&f.host, "not json", err, sizeof err), nullptr);
}

TEST(AnomalyPlugin, LoadsModelsAndKeepsTheOldOneOnError) {
  Fake f;
  init(f);
  const uplink_plugin* t = uplink_plugin_entry();
  char msg[512] = "";
  void* inst = t->create(&f.host, "{}", msg, sizeof msg);
  ASSERT_NE(inst, nullptr);
  EXPECT_EQ(t->load_model(inst, "/nonexistent/x.model", msg, sizeof msg), UPLINK_ERROR);
  EXPECT_NE(std::string(msg).find("cannot open"), std::string::npos) << msg;
  EXPECT_EQ(t->load_model(inst, UPLINK_ANOMALY_DEFAULT_MODEL, msg, sizeof msg), UPLINK_OK) << msg;
  t->destroy(inst);
}

}  // namespace
