#pragma once
// Fakes shared by the module tests (monitor, routing, wiring): a prober
// factory with a scripted network per link, and a configuration with probe
// targets.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "net/testing/sample_config.h"
#include "probe/fake_prober.h"
#include "probe/prober.h"

namespace uplink::testing {

using namespace std::chrono_literals;

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
