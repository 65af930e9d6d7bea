#pragma once
// A scripted Prober on FakeTimeSource for unit tests: a responder decides,
// per probe, whether and when a reply comes back.
#include <functional>
#include <list>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "probe/prober.h"

namespace uplink::probe::testing {

struct SentProbe {
  ProbeTarget target;
  Duration timeout;
  TimePoint at;
};

class FakeProber final : public Prober {
 public:
  // Returns the RTT of the reply, or nullopt for a lost probe. An RTT above
  // the timeout yields a timeout, then a late reply.
  using Responder = std::function<std::optional<Duration>(const ProbeTarget&)>;

  FakeProber(FakeTimeSource& time, Responder* responder) : time_(time), responder_(responder) {}

  void probe(const ProbeTarget& target, Duration timeout, std::function<void(ProbeResult)> done) override {
    sent.push_back({target, timeout, time_.now()});
    bytes_ += 44;  // IPv4 + ICMP header + 16 bytes payload
    std::optional<Duration> rtt = (*responder_)(target);
    auto& timer = timers_.emplace_back(time_.make_timer());
    if (rtt && *rtt <= timeout) {
      timer->arm(*rtt, [done, r = *rtt] { done(ProbeResult{ProbeOutcome::reply, r, {}}); });
      return;
    }
    timer->arm(timeout, [done] { done(ProbeResult{ProbeOutcome::timeout, {}, {}}); });
    if (rtt) {
      auto& late = timers_.emplace_back(time_.make_timer());
      late->arm(*rtt, [this, target, r = *rtt] {
        if (on_late_) on_late_(target, r);
      });
    }
  }
  uint64_t bytes_sent() const override { return bytes_; }
  void set_late_handler(LateHandler h) override { on_late_ = std::move(h); }
  void reset() override { ++resets; }

  std::vector<SentProbe> sent;
  int resets = 0;

 private:
  FakeTimeSource& time_;
  Responder* responder_;
  uint64_t bytes_ = 0;
  LateHandler on_late_;
  std::list<std::unique_ptr<Timer>> timers_;
};

class FakeProberFactory final : public ProberFactory {
 public:
  explicit FakeProberFactory(FakeTimeSource& time) : time_(time) {}
  std::unique_ptr<Prober> make(const LinkConfig&) override {
    auto p = std::make_unique<FakeProber>(time_, &responder);
    last = p.get();
    ++made;
    return p;
  }
  FakeProber::Responder responder = [](const ProbeTarget&) { return std::optional<Duration>(); };
  FakeProber* last = nullptr;
  int made = 0;

 private:
  FakeTimeSource& time_;
};

}  // namespace uplink::probe::testing
