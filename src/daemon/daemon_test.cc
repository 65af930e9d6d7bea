#include "daemon/daemon.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "daemon/test_support.h"

namespace uplink {
namespace {

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
    daemon_->events().subscribe([this](const LinkEvent& e) { events_.push_back(e); });
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
    daemon_->report_link_state("wan3", LinkState::down, "interface_gone");
    daemon_->report_policy_active("backup", {"wan3"});
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
  daemon_->report_link_state("wan1", LinkState::up, "probes_ok");
  daemon_->report_link_state("wan2", LinkState::up, "probes_ok");
  daemon_->report_link_state("nope", LinkState::up, "probes_ok");
  EXPECT_EQ(daemon_->links().at("wan1").state, LinkState::up);
  EXPECT_EQ(daemon_->links().at("wan2").state, LinkState::disabled);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].reason, "probes_ok");
  daemon_->report_link_state("wan1", LinkState::up, "probes_ok");  // no change, no event
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(DaemonTest, RemovedLinkLeavesPolicyActiveList) {
  daemon_->report_policy_active("default", {"wan1", "wan2"});
  Config next = daemon_->config();
  next.links.erase("wan2");
  std::erase(next.link_order, "wan2");
  next.policies["default"].members.pop_back();
  ASSERT_TRUE(daemon_->apply_config(next));
  EXPECT_EQ(daemon_->policies().at("default").active, std::vector<std::string>{"wan1"});
  EXPECT_FALSE(daemon_->links().count("wan2"));
}

// "link wan1 disabled (admin)" / "policy default wan1 -> - (wan1 disabled)".
std::string describe(const Event& e) {
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s.empty() ? std::string("-") : s;
  };
  if (const auto* l = std::get_if<LinkEvent>(&e))
    return "link " + l->link + " " + std::string(to_string(l->to)) + " (" + l->reason + ")";
  const auto& p = std::get<PolicyEvent>(e);
  return "policy " + p.policy + " " + join(p.active_before) + " -> " + join(p.active) + " (" + p.reason + ")";
}

TEST_F(DaemonTest, PolicyChangeBecomesAnEventAndCountsPerPolicy) {
  std::vector<Event> all;
  daemon_->events().subscribe_all([&](const Event& e) { all.push_back(e); });
  time_.advance(std::chrono::seconds(2));
  daemon_->report_policy_change("default", {}, {"wan1"}, "wan1 up");
  ASSERT_EQ(all.size(), 1u);
  const auto& p = std::get<PolicyEvent>(all[0]);
  EXPECT_EQ(p.ts, time_.wall_now());
  EXPECT_EQ(describe(all[0]), "policy default - -> wan1 (wan1 up)");
  EXPECT_TRUE(events_.empty()) << "link-only subscribers do not see policy events";
  EXPECT_EQ(daemon_->policies().at("default").changes, 1u);
  EXPECT_EQ(daemon_->events().recent().size(), 1u);
  daemon_->report_policy_change("gone", {"wan1"}, {}, "removed");  // no such policy: an event, no counter
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(daemon_->policies().at("default").changes, 1u);
}

TEST_F(DaemonTest, PolicyEventsOfAnApplyFollowItsLinkEvents) {
  // Like routing: while the modules apply a disable, the link leaves the policy.
  second_.on_apply = [this](const Config& next) {
    if (!next.links.at("wan1").enabled)
      daemon_->report_policy_change("default", {"wan1"}, {}, "wan1 disabled; last_resort");
  };
  std::vector<std::string> seen;
  daemon_->events().subscribe_all([&](const Event& e) { seen.push_back(describe(e)); });
  Config next = daemon_->config();
  next.links["wan1"].enabled = false;
  ASSERT_TRUE(daemon_->apply_config(next));
  EXPECT_EQ(seen, (std::vector<std::string>{"link wan1 disabled (admin)",
                                            "policy default wan1 -> - (wan1 disabled; last_resort)"}));
  EXPECT_EQ(daemon_->policies().at("default").changes, 1u);
  // Outside an apply, nothing is held.
  daemon_->report_policy_change("default", {}, {"wan2"}, "wan2 up");
  EXPECT_EQ(seen.size(), 3u);
}

TEST_F(DaemonTest, PolicyEventsOfAFailedApplyAreStillPublished) {
  // The kernel did move (and moved back in the rollback): the stream says so.
  first_.on_apply = [this](const Config& next) {
    bool disabled = !next.links.at("wan1").enabled;
    daemon_->report_policy_change("default", disabled ? std::vector<std::string>{"wan1"} : std::vector<std::string>{},
                                  disabled ? std::vector<std::string>{} : std::vector<std::string>{"wan1"},
                                  disabled ? "wan1 disabled; last_resort" : "wan1 up");
  };
  second_.fail_next = true;
  std::vector<std::string> seen;
  daemon_->events().subscribe_all([&](const Event& e) { seen.push_back(describe(e)); });
  Config next = daemon_->config();
  next.links["wan1"].enabled = false;
  ASSERT_FALSE(daemon_->apply_config(next));
  EXPECT_EQ(seen, (std::vector<std::string>{"policy default wan1 -> - (wan1 disabled; last_resort)",
                                            "policy default - -> wan1 (wan1 up)"}));
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
