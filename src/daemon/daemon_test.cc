#include "daemon/daemon.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "core/testing/bus_recorder.h"
#include "daemon/test_support.h"

namespace uplink {
namespace {

using testing::BusRecorder;
using testing::ScriptedModule;
using testing::TempConfig;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(time_, file_.load());
    daemon_->add_module(first_);
    daemon_->add_module(second_);
    auto r = daemon_->start();
    ASSERT_TRUE(r) << r.error().message;
    daemon_->events().subscribe<LinkEvent>([this](const LinkEvent& e) { events_.push_back(e); });
  }
  std::string replaced(const std::string& from, const std::string& to) {
    std::string text = file_.read();
    auto pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return text.replace(pos, from.size(), to);
  }

  FakeTimeSource time_;
  TempConfig file_;
  ScriptedModule first_{"first"}, second_{"second"};
  std::unique_ptr<Daemon> daemon_;
  std::vector<LinkEvent> events_;
};

TEST_F(DaemonTest, StartSetsInitialStatesAndAppliesModules) {
  EXPECT_EQ(daemon_->links().at("wan1").state, LinkState::unknown);
  EXPECT_EQ(daemon_->links().at("wan1").reason, "startup");
  EXPECT_EQ(daemon_->links().at("wan2").state, LinkState::disabled);
  EXPECT_EQ(daemon_->links().at("wan2").reason, "admin");
  ASSERT_EQ(first_.diffs.size(), 1u);
  EXPECT_EQ(first_.diffs[0].links_added, (std::vector<std::string>{"wan1", "wan2"}));
  EXPECT_TRUE(daemon_->policies().at("default").active.empty());
}

TEST_F(DaemonTest, DisableAndEnableEmitAdminEvents) {
  time_.advance(std::chrono::seconds(3));
  Config next = daemon_->config();
  next.links["wan1"].enabled = false;
  auto r = daemon_->apply_config(next);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(daemon_->links().at("wan1").state, LinkState::disabled);
  EXPECT_EQ(daemon_->links().at("wan1").since, time_.wall_now());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].link, "wan1");
  EXPECT_EQ(events_[0].from, LinkState::unknown);
  EXPECT_EQ(events_[0].to, LinkState::disabled);
  EXPECT_EQ(events_[0].reason, "admin");

  next.links["wan1"].enabled = true;
  ASSERT_TRUE(daemon_->apply_config(next));
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[1].from, LinkState::disabled);
  EXPECT_EQ(events_[1].to, LinkState::unknown);
  EXPECT_EQ(daemon_->events().recent().size(), 2u);
}

TEST_F(DaemonTest, FailingModuleRollsBackEarlierModulesAndKeepsState) {
  Config before = daemon_->config();
  Config next = before;
  next.links["wan1"].enabled = false;
  second_.fail_next = true;
  auto r = daemon_->apply_config(next);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "second: kernel said no; the previous configuration stays in effect");
  // first was applied, then rolled back to the previous configuration.
  ASSERT_EQ(first_.applied.size(), 3u);
  EXPECT_FALSE(first_.applied[1].links.at("wan1").enabled);
  EXPECT_TRUE(first_.applied[2].links.at("wan1").enabled);
  EXPECT_EQ(first_.diffs[2].links_changed, (std::vector<std::string>{"wan1"}));
  EXPECT_EQ(first_.current, before);
  EXPECT_EQ(daemon_->config(), before);
  EXPECT_EQ(daemon_->links().at("wan1").state, LinkState::unknown);
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(daemon_->counters().applies_failed, 1u);
}

Config with_wan3_and_backup(const Config& base) {
  Config next = base;
  LinkConfig wan3 = next.links.at("wan1");
  wan3.name = "wan3";
  wan3.interface = "eth3";
  next.links["wan3"] = wan3;
  next.link_order.push_back("wan3");
  PolicyConfig backup;
  backup.name = "backup";
  backup.members = {{"wan3", 1, 1}};
  next.policies["backup"] = backup;
  next.policy_order.push_back("backup");
  return next;
}

// Modules report while they apply (a missing interface, a policy's first
// members): the daemon has the entries of added links and policies by then.
TEST_F(DaemonTest, ReportsMadeWhileApplyingLandForAddedLinksAndPolicies) {
  first_.on_apply = [this](const Config& c) {
    if (!c.links.count("wan3")) return;
    daemon_->link_table().report_verdict("wan3", LinkState::down, "interface_gone");
    daemon_->events().publish(PolicyActive{"backup", {"wan3"}});
  };
  ASSERT_TRUE(daemon_->apply_config(with_wan3_and_backup(daemon_->config())));
  EXPECT_EQ(daemon_->links().at("wan3").state, LinkState::down);
  EXPECT_EQ(daemon_->links().at("wan3").reason, "interface_gone");
  EXPECT_EQ(daemon_->policies().at("backup").active, (std::vector<std::string>{"wan3"}));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].from, LinkState::unknown);
  EXPECT_EQ(events_[0].to, LinkState::down);
}

TEST_F(DaemonTest, RolledBackAdditionsLeaveNoEntries) {
  second_.fail_next = true;
  ASSERT_FALSE(daemon_->apply_config(with_wan3_and_backup(daemon_->config())));
  EXPECT_EQ(daemon_->links().count("wan3"), 0u);
  EXPECT_EQ(daemon_->policies().count("backup"), 0u);
  EXPECT_TRUE(events_.empty());
}

TEST_F(DaemonTest, NoChangeDoesNotTouchModules) {
  auto r = daemon_->apply_config(daemon_->config());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(first_.applied.size(), 1u);
}

TEST_F(DaemonTest, MonitorReportsAreIgnoredForDisabledLinks) {
  daemon_->link_table().report_verdict("wan1", LinkState::up, "probes_ok");
  daemon_->link_table().report_verdict("wan2", LinkState::up, "probes_ok");
  daemon_->link_table().report_verdict("nope", LinkState::up, "probes_ok");
  EXPECT_EQ(daemon_->links().at("wan1").state, LinkState::up);
  EXPECT_EQ(daemon_->links().at("wan2").state, LinkState::disabled);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].reason, "probes_ok");
  daemon_->link_table().report_verdict("wan1", LinkState::up, "probes_ok");  // no change, no event
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(DaemonTest, QualityReportsLandInTheLinkEntry) {
  daemon_->link_table().report_quality("wan1", LinkQuality{12.5, 0.75, 0.0});
  ASSERT_TRUE(daemon_->links().at("wan1").quality.latency_ms.has_value());
  EXPECT_EQ(*daemon_->links().at("wan1").quality.latency_ms, 12.5);
  EXPECT_TRUE(events_.empty()) << "quality alone is no transition";
  EXPECT_EQ(daemon_->events().published("link_quality"), 1u);
  EXPECT_EQ(daemon_->events().streamed(), 0u);
}

TEST_F(DaemonTest, RemovedLinkLeavesPolicyActiveList) {
  daemon_->events().publish(PolicyActive{"default", {"wan1", "wan2"}});
  Config next = daemon_->config();
  next.links.erase("wan2");
  std::erase(next.link_order, "wan2");
  next.policies["default"].members.pop_back();
  ASSERT_TRUE(daemon_->apply_config(next));
  EXPECT_EQ(daemon_->policies().at("default").active, std::vector<std::string>{"wan1"});
  EXPECT_FALSE(daemon_->links().count("wan2"));
}

PolicyEvent policy_event(TimeSource& time, std::string policy, std::vector<std::string> before,
                         std::vector<std::string> after, std::string reason) {
  return PolicyEvent{time.wall_now(), std::move(policy), std::move(before), std::move(after), std::move(reason), "", ""};
}

TEST_F(DaemonTest, PolicyChangeBecomesAnEventAndCountsPerPolicy) {
  BusRecorder bus(daemon_->events());
  time_.advance(std::chrono::seconds(2));
  daemon_->events().publish(policy_event(time_, "default", {}, {"wan1"}, "wan1 up"));
  ASSERT_EQ(bus.stream.size(), 1u);
  EXPECT_EQ(bus.stream[0].topic, "policy");
  EXPECT_EQ(bus.stream[0].json["ts"], format_wall_time(time_.wall_now()));
  EXPECT_EQ(bus.order, std::vector<std::string>{"policy default - -> wan1 (wan1 up)"});
  EXPECT_TRUE(events_.empty()) << "link subscribers do not see policy events";
  EXPECT_EQ(daemon_->policies().at("default").changes, 1u);
  EXPECT_EQ(daemon_->policies().at("default").active, std::vector<std::string>{"wan1"});
  EXPECT_EQ(daemon_->events().recent().size(), 1u);
  daemon_->events().publish(policy_event(time_, "gone", {"wan1"}, {}, "removed"));  // no such policy: an event, no counter
  EXPECT_EQ(bus.stream.size(), 2u);
  EXPECT_EQ(daemon_->policies().at("default").changes, 1u);
  EXPECT_EQ(daemon_->policies().count("gone"), 0u);
}

TEST_F(DaemonTest, PolicyActiveSetsTheActiveListWithoutCountingAChange) {
  daemon_->events().publish(PolicyActive{"default", {"wan1"}});
  EXPECT_EQ(daemon_->policies().at("default").active, std::vector<std::string>{"wan1"});
  EXPECT_EQ(daemon_->policies().at("default").changes, 0u);
  EXPECT_EQ(daemon_->events().streamed(), 0u) << "PolicyActive is internal";
  daemon_->events().publish(PolicyActive{"nope", {"wan1"}});
  EXPECT_EQ(daemon_->policies().count("nope"), 0u);
}

// An administrative disable is committed after every module applied: the
// link event comes after the apply (a module applying still sees the old
// state), and a subscriber's reaction to it (routing's policy change) after
// the link event.
TEST_F(DaemonTest, AdminLinkEventComesAfterTheApplyAndItsPolicyChangeAfterIt) {
  BusRecorder bus(daemon_->events());
  std::vector<std::string> during;
  second_.on_apply = [&](const Config&) {
    during.push_back(std::string(to_string(daemon_->links().at("wan1").state)) + " after " +
                     std::to_string(bus.link_events.size()) + " link events");
  };
  auto disable = [](std::string_view text, const std::string&) -> Result<std::string> {
    std::string t(text);
    t.replace(t.find("interface = \"eth1\""), 18, "interface = \"eth1\"\nenabled = false");
    return t;
  };
  ASSERT_TRUE(daemon_->edit_config(disable));
  EXPECT_EQ(during, std::vector<std::string>{"unknown after 0 link events"});
  EXPECT_EQ(bus.order, std::vector<std::string>{"link wan1 disabled (admin)"}) << "no routing module: no policy event";
  EXPECT_FALSE(file_.load().links.at("wan1").enabled);

  // A subscriber that reacts to link events, as routing does. Whether a
  // reader subscribed before it (`bus`) or after it (`follower`, like
  // `uplinkctl events --follow` or hooks), it sees the cause first.
  daemon_->events().subscribe<LinkEvent>([this](const LinkEvent& e) {
    if (e.link != "wan1") return;
    bool up = e.to != LinkState::disabled;
    daemon_->events().publish(policy_event(time_, "default", up ? std::vector<std::string>{} : std::vector<std::string>{"wan1"},
                                           up ? std::vector<std::string>{"wan1"} : std::vector<std::string>{},
                                           up ? "wan1 up" : "wan1 disabled; last_resort"));
  });
  BusRecorder follower(daemon_->events());
  bus.clear();
  Config next = daemon_->config();
  next.links["wan1"].enabled = true;
  ASSERT_TRUE(daemon_->apply_config(next));
  next.links["wan1"].enabled = false;
  ASSERT_TRUE(daemon_->apply_config(next));
  const std::vector<std::string> want{"link wan1 unknown (admin)", "policy default - -> wan1 (wan1 up)",
                                      "link wan1 disabled (admin)",
                                      "policy default wan1 -> - (wan1 disabled; last_resort)"};
  EXPECT_EQ(bus.order, want);
  EXPECT_EQ(follower.order, want);
  std::vector<std::string> stream;
  for (const auto& r : follower.stream) stream.push_back(r.topic);
  EXPECT_EQ(stream, (std::vector<std::string>{"link", "policy", "link", "policy"}));
  std::vector<std::string> history;
  for (const auto& r : daemon_->events().recent()) history.push_back(r.topic);
  EXPECT_EQ(history, (std::vector<std::string>{"link", "link", "policy", "link", "policy"}));
  EXPECT_EQ(daemon_->policies().at("default").changes, 2u);
  EXPECT_TRUE(daemon_->policies().at("default").active.empty());
}

TEST_F(DaemonTest, PolicyEventsOfAFailedApplyAreStillPublished) {
  // The kernel did move (and moved back in the rollback): the stream says so.
  first_.on_apply = [this](const Config& next) {
    bool disabled = !next.links.at("wan1").enabled;
    daemon_->events().publish(policy_event(time_, "default",
                                           disabled ? std::vector<std::string>{"wan1"} : std::vector<std::string>{},
                                           disabled ? std::vector<std::string>{} : std::vector<std::string>{"wan1"},
                                           disabled ? "wan1 disabled; last_resort" : "wan1 up"));
  };
  second_.fail_next = true;
  BusRecorder bus(daemon_->events());
  Config next = daemon_->config();
  next.links["wan1"].enabled = false;
  ASSERT_FALSE(daemon_->apply_config(next));
  EXPECT_EQ(bus.order, (std::vector<std::string>{"policy default wan1 -> - (wan1 disabled; last_resort)",
                                                 "policy default - -> wan1 (wan1 up)"}));
  EXPECT_EQ(daemon_->links().at("wan1").state, LinkState::unknown) << "no admin transition for a rejected change";
}

TEST_F(DaemonTest, ReloadAppliesTheFile) {
  file_.write(replaced("interface = \"eth2\"\nenabled = false", "interface = \"eth2\""));
  auto r = daemon_->reload();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(daemon_->links().at("wan2").state, LinkState::unknown);
  EXPECT_EQ(daemon_->counters().reloads_ok, 1u);
}

TEST_F(DaemonTest, ReloadWithBrokenFileKeepsStateAndFile) {
  Config before = daemon_->config();
  std::string broken = replaced("interface = \"eth2\"", "interface = 42");
  file_.write(broken);
  auto r = daemon_->reload();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind(file_.path() + ":16:13: links.wan2.interface: expected a string, got an integer", 0), 0u)
      << r.error().message;
  EXPECT_NE(r.error().message.find("the running configuration is unchanged"), std::string::npos);
  EXPECT_EQ(daemon_->config(), before);
  EXPECT_EQ(file_.read(), broken);  // a reload never writes the file
  EXPECT_EQ(first_.applied.size(), 1u);
  EXPECT_EQ(daemon_->counters().reloads_failed, 1u);
}

TEST_F(DaemonTest, EditWritesFileOnlyAfterSuccessfulApply) {
  std::string original = file_.read();
  auto edit = [](std::string_view text, const std::string&) -> Result<std::string> {
    std::string t(text);
    t.replace(t.find("interface = \"eth1\""), 18, "interface = \"eth9\"");
    return t;
  };
  second_.fail_next = true;
  auto bad = daemon_->edit_config(edit);
  ASSERT_FALSE(bad);
  EXPECT_EQ(file_.read(), original);
  EXPECT_EQ(daemon_->config().links.at("wan1").interface, "eth1");

  auto good = daemon_->edit_config(edit);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(daemon_->config().links.at("wan1").interface, "eth9");
  EXPECT_NE(file_.read().find("interface = \"eth9\"   # on the left port"), std::string::npos);
  EXPECT_EQ(daemon_->counters().edits_ok, 1u);
  EXPECT_EQ(daemon_->counters().edits_failed, 1u);
}

TEST_F(DaemonTest, EditProducingInvalidConfigChangesNothing) {
  std::string original = file_.read();
  auto r = daemon_->edit_config([](std::string_view text, const std::string&) -> Result<std::string> {
    return std::string(text) + "\n[links.wan3]\nkind = \"ethernet\"\ninterface = \"eth1\"\n";
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind(file_.path() + ":", 0), 0u) << r.error().message;
  EXPECT_EQ(file_.read(), original);
  EXPECT_FALSE(daemon_->config().links.count("wan3"));
  EXPECT_EQ(first_.applied.size(), 1u);
}

TEST_F(DaemonTest, StopStopsModules) {
  daemon_->stop();
  EXPECT_TRUE(first_.stopped);
  EXPECT_TRUE(second_.stopped);
}

}  // namespace
}  // namespace uplink
