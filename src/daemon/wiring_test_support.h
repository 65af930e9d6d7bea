#pragma once
// Fakes shared by monitor_module_test and routing_module_test: a recording
// LinkStateSink, a prober factory with a scripted network per link, and a
// configuration with probe targets.
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/module.h"
#include "net/testing/sample_config.h"
#include "probe/fake_prober.h"

namespace uplink::testing {

using namespace std::chrono_literals;

// What the daemon would be told.
class RecordingSink final : public LinkStateSink {
 public:
  struct Change {
    std::string link;
    LinkState state;
    std::string reason;
    bool operator==(const Change&) const = default;
  };
  void report_link_state(const std::string& link, LinkState state, const std::string& reason) override {
    auto it = states.find(link);
    if (it != states.end() && it->second == state) return;
    states[link] = state;
    changes.push_back({link, state, reason});
  }
  void report_link_quality(const std::string& link, const LinkQuality& q) override {
    quality[link] = q;
    ++quality_reports;
  }
  void report_policy_active(const std::string& policy, std::vector<std::string> active) override {
    policies[policy] = std::move(active);
    ++policy_reports;
  }
  LinkState state(const std::string& link) const {
    auto it = states.find(link);
    return it == states.end() ? LinkState::unknown : it->second;
  }
  std::string last_reason(const std::string& link) const {
    for (auto it = changes.rbegin(); it != changes.rend(); ++it)
      if (it->link == link) return it->reason;
    return "";
  }

  std::map<std::string, LinkState> states;
  std::vector<Change> changes;
  std::map<std::string, LinkQuality> quality;
  int quality_reports = 0;
  std::map<std::string, std::vector<std::string>> policies;
  int policy_reports = 0;
};

// One scripted network per link: every probe of a link answers after `rtt`
// unless the link is `dead`; make() fails (nullptr) for links in `fail`.
class ScriptedProbers final : public probe::ProberFactory {
 public:
  explicit ScriptedProbers(FakeTimeSource& time) : time_(time) {}
  std::unique_ptr<probe::Prober> make(const LinkConfig& link) override {
    ++made[link.name];
    if (fail.count(link.name)) return nullptr;
    auto& r = responders_[link.name];  // std::map: the address stays valid for the prober
    r = [this, name = link.name](const ProbeTarget& t) -> std::optional<Duration> {
      ++sent[name];
      targets[name].insert(t.address.to_string());
      if (dead.count(name)) return std::nullopt;
      return rtt;
    };
    return std::make_unique<probe::testing::FakeProber>(time_, &r);
  }

  std::map<std::string, int> sent, made;
  std::map<std::string, std::set<std::string>> targets;  // addresses probed, per link
  std::set<std::string> fail, dead;
  Duration rtt = 10ms;

 private:
  FakeTimeSource& time_;
  std::map<std::string, probe::testing::FakeProber::Responder> responders_;
};

inline ProbeTarget probe_target(const char* a) { return ProbeTarget{address(a), 0, a}; }

// sample_config() (wan1 eth1, wan2 eth2, cell1 wwan0; default = failover
// wan1:3 + wan2:1, cell1 tier 2) with two targets per link, reliability 1,
// down_after 3, up_after 2.
inline Config probed_config() {
  Config c = sample_config();
  for (auto& [name, l] : c.links) {
    l.probe.targets = {probe_target("203.0.113.1"), probe_target("203.0.113.2")};
    l.probe.reliability = 1;
    l.probe.down_after = 3;
    l.probe.up_after = 2;
  }
  return c;
}

}  // namespace uplink::testing
