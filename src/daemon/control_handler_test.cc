#include "daemon/control_handler.h"

#include <gtest/gtest.h>

#include "daemon/test_support.h"
#include "daemon/views.h"

namespace uplink {
namespace {

using testing::TempConfig;

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(time_, file_.load());
    ASSERT_TRUE(daemon_->start());
    handler_ = std::make_unique<ControlHandler>(*daemon_);
    daemon_->events().subscribe<LinkEvent>([this](const LinkEvent& e) { events_.push_back(event_json(e)); });
  }
  control::Reply call(const std::string& line) {
    auto req = control::parse_request(line);
    EXPECT_TRUE(req) << line << ": " << req.error().message;
    return handler_->handle(*req);
  }

  FakeTimeSource time_;
  TempConfig file_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<ControlHandler> handler_;
  std::vector<Json> events_;
};

TEST_F(HandlerTest, StatusHasTheContractFields) {
  auto r = call(R"({"cmd":"status"})");
  ASSERT_TRUE(r.ok) << r.error;
  const Json& links = r.result["links"];
  ASSERT_EQ(links.size(), 2u);
  const Json& wan1 = links[0];
  for (const char* f : {"name", "kind", "interface", "state", "since", "reason", "latency_ms", "jitter_ms",
                        "loss_pct", "table"}) {
    EXPECT_TRUE(wan1.contains(f)) << f;
  }
  EXPECT_EQ(wan1["name"], "wan1");
  EXPECT_EQ(wan1["kind"], "ethernet");
  EXPECT_EQ(wan1["interface"], "eth1");
  EXPECT_EQ(wan1["state"], "unknown");
  EXPECT_TRUE(wan1["latency_ms"].is_null());
  EXPECT_TRUE(wan1["table"].is_number_integer());
  EXPECT_EQ(wan1["since"], format_wall_time(time_.wall_now()));
  EXPECT_EQ(links[1]["state"], "disabled");
  EXPECT_EQ(r.result["policies"][0], (Json{{"name", "default"},
                                           {"mode", "failover"},
                                           {"active", Json::array()},
                                           {"members", Json::array({Json{{"link", "wan1"}, {"tier", 1}, {"weight", 1}},
                                                                    Json{{"link", "wan2"}, {"tier", 2}, {"weight", 1}}})},
                                           {"last_resort", "unreachable"}}));
}

TEST_F(HandlerTest, QualityNumbersAppearWhenMeasured) {
  daemon_->link_table().report_quality("wan1", LinkQuality{12.5, 0.75, 0.0});
  auto r = call(R"({"cmd":"links"})");
  EXPECT_EQ(r.result[0]["latency_ms"], 12.5);
  EXPECT_EQ(r.result[0]["jitter_ms"], 0.75);
  EXPECT_EQ(r.result[0]["loss_pct"], 0.0);
}

TEST_F(HandlerTest, LinkShowUnknown) {
  auto r = call(R"({"cmd":"link.show","name":"wan9"})");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error, "no such link 'wan9'");
}

TEST_F(HandlerTest, LinkShowHasProbeConfig) {
  auto r = call(R"({"cmd":"link.show","name":"wan1"})");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.result["config"]["probe"]["targets"], Json::array({"203.0.113.1"}));
  EXPECT_EQ(r.result["config"]["probe"]["method"], "icmp");
}

TEST_F(HandlerTest, DisableWritesFileChangesStateAndEmitsEvent) {
  auto r = call(R"({"cmd":"link.disable","name":"wan1"})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.result["state"], "disabled");
  EXPECT_EQ(daemon_->links().at("wan1").state, LinkState::disabled);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0]["to"], "disabled");
  EXPECT_EQ(events_[0]["reason"], "admin");
  EXPECT_FALSE(file_.load().links.at("wan1").enabled);
  EXPECT_NE(file_.read().find("# the fibre line"), std::string::npos);

  auto e = call(R"({"cmd":"link.enable","name":"wan1"})");
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_EQ(e.result["state"], "unknown");
  EXPECT_TRUE(file_.load().links.at("wan1").enabled);
}

TEST_F(HandlerTest, LinkSetKeepsCommentsAndApplies) {
  auto r = call(R"({"cmd":"link.set","name":"wan1","set":{"probe.interval":"500ms","metered":"true"}})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(daemon_->config().links.at("wan1").probe.interval, std::chrono::milliseconds(500));
  EXPECT_TRUE(daemon_->config().links.at("wan1").metered);
  std::string text = file_.read();
  EXPECT_NE(text.find("# site config: comments must survive CLI edits"), std::string::npos);
  EXPECT_NE(text.find("# on the left port"), std::string::npos);
  EXPECT_EQ(file_.load(), daemon_->config());
}

TEST_F(HandlerTest, InvalidSetLeavesFileAndStateUntouched) {
  std::string before = file_.read();
  Config cfg = daemon_->config();
  auto r = call(R"({"cmd":"link.set","name":"wan1","set":{"probe.interval":"fast"}})");
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.find("interval"), std::string::npos) << r.error;
  EXPECT_EQ(file_.read(), before);
  EXPECT_EQ(daemon_->config(), cfg);
}

TEST_F(HandlerTest, AddAndRemoveLink) {
  auto r = call(R"({"cmd":"link.add","name":"wan3","set":{"kind":"ethernet","interface":"eth3",)"
                R"("probe.targets":"203.0.113.7,203.0.113.8","metered":"true"}})");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(daemon_->config().links.count("wan3"));
  EXPECT_EQ(daemon_->config().links.at("wan3").probe.targets.size(), 2u);
  EXPECT_EQ(daemon_->links().at("wan3").state, LinkState::unknown);
  EXPECT_TRUE(file_.load().links.count("wan3"));

  auto dup = call(R"({"cmd":"link.add","name":"wan3","set":{"kind":"ethernet","interface":"eth4"}})");
  ASSERT_FALSE(dup.ok);
  EXPECT_EQ(dup.error, "link 'wan3' already exists");

  auto rm = call(R"({"cmd":"link.remove","name":"wan3"})");
  ASSERT_TRUE(rm.ok) << rm.error;
  EXPECT_FALSE(daemon_->links().count("wan3"));
  EXPECT_FALSE(file_.load().links.count("wan3"));
  EXPECT_NE(file_.read().find("# the fibre line"), std::string::npos);
}

TEST_F(HandlerTest, RemovingALinkAPolicyUsesIsRejected) {
  std::string before = file_.read();
  auto r = call(R"({"cmd":"link.remove","name":"wan2"})");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(file_.read(), before);
  EXPECT_TRUE(daemon_->links().count("wan2"));
}

TEST_F(HandlerTest, PolicyAndRuleEdits) {
  auto p = call(R"({"cmd":"policy.add","name":"bulk","mode":"balance","members":[{"link":"wan1","weight":3}]})");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(daemon_->config().policies.at("bulk").members[0].weight, 3);
  auto ps = call(R"({"cmd":"policy.set","name":"bulk","members":[{"link":"wan1"},{"link":"wan2","tier":2}]})");
  ASSERT_TRUE(ps.ok) << ps.error;
  EXPECT_EQ(daemon_->config().policies.at("bulk").members.size(), 2u);
  auto ra = call(R"({"cmd":"rule.add","name":"cams","set":{"policy":"bulk","source":"192.168.60.0/24"}})");
  ASSERT_TRUE(ra.ok) << ra.error;
  ASSERT_EQ(daemon_->config().rules.size(), 2u);
  EXPECT_EQ(daemon_->config().rules[0].name, "cams");  // before the catch-all
  auto rs = call(R"({"cmd":"rule.show"})");
  EXPECT_EQ(rs.result[0]["source"], "192.168.60.0/24");
  auto rr = call(R"({"cmd":"rule.remove","name":"cams"})");
  ASSERT_TRUE(rr.ok) << rr.error;
  auto pr = call(R"({"cmd":"policy.remove","name":"bulk"})");
  ASSERT_TRUE(pr.ok) << pr.error;
  EXPECT_FALSE(file_.load().policies.count("bulk"));
}

TEST_F(HandlerTest, ReloadReportsFileLineColAndKeepsState) {
  std::string broken = file_.read() + "\n[links.wan4]\nkind = \"laser\"\n";
  file_.write(broken);
  auto r = call(R"({"cmd":"reload"})");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.rfind(file_.path() + ":", 0), 0u) << r.error;
  EXPECT_FALSE(daemon_->links().count("wan4"));
  EXPECT_EQ(file_.read(), broken);
}

TEST_F(HandlerTest, EventsHistoryAndFollow) {
  call(R"({"cmd":"link.disable","name":"wan1"})");
  auto h = call(R"({"cmd":"events"})");
  ASSERT_TRUE(h.ok);
  ASSERT_EQ(h.result.size(), 1u);
  EXPECT_EQ(h.result[0]["link"], "wan1");
  auto f = call(R"({"cmd":"events","follow":true})");
  EXPECT_TRUE(f.ok);
  EXPECT_TRUE(f.follow_events);
}

TEST_F(HandlerTest, EventsHistoryHoldsPolicyEventsInOrder) {
  daemon_->link_table().report_verdict("wan1", LinkState::up, "probes_ok");
  daemon_->events().publish(PolicyEvent{time_.wall_now(), "default", {}, {"wan1"}, "wan1 up", "wan1", "up"});
  auto h = call(R"({"cmd":"events"})");
  ASSERT_TRUE(h.ok);
  ASSERT_EQ(h.result.size(), 2u);
  EXPECT_EQ(h.result[0]["link"], "wan1");
  std::string ts = format_wall_time(time_.wall_now());
  EXPECT_EQ(h.result[1], (Json{{"ts", ts}, {"policy", "default"}, {"active_before", Json::array()},
                               {"active", Json::array({"wan1"})}, {"reason", "wan1 up"}, {"cause_link", "wan1"},
                               {"cause", "up"}}));
}

TEST_F(HandlerTest, MetricsCountPolicyChangesPerPolicy) {
  daemon_->events().publish(PolicyEvent{time_.wall_now(), "default", {}, {"wan1"}, "wan1 up", "wan1", "up"});
  daemon_->events().publish(
      PolicyEvent{time_.wall_now(), "default", {"wan1"}, {}, "wan1 down; last_resort", "wan1", "down"});
  auto r = call(R"({"cmd":"metrics"})");
  ASSERT_TRUE(r.ok);
  std::string text = r.result["text"];
  EXPECT_NE(text.find("# TYPE uplink_policy_changes_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nuplink_policy_changes_total{policy=\"default\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nuplink_events_total 2\n"), std::string::npos) << text;
}

TEST_F(HandlerTest, ConfigShowIsParseableToml) {
  auto r = call(R"({"cmd":"config.show"})");
  ASSERT_TRUE(r.ok);
  Config back = parse_config(r.result["toml"].get<std::string>(), file_.path());
  EXPECT_EQ(back.links, daemon_->config().links);
}

TEST_F(HandlerTest, MetricsText) {
  auto r = call(R"({"cmd":"metrics"})");
  ASSERT_TRUE(r.ok);
  std::string text = r.result["text"];
  EXPECT_NE(text.find("uplink_link_state{link=\"wan1\",state=\"unknown\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("uplink_link_state{link=\"wan2\",state=\"disabled\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE uplink_link_latency_ms gauge\n"), std::string::npos);
  EXPECT_EQ(text.find("uplink_link_latency_ms{"), std::string::npos);  // nothing measured yet
  EXPECT_NE(text.find("\nuplink_policy_changes_total{policy=\"default\"} 0\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace uplink
