#pragma once
// A ModemBackend for unit tests: records every command and lets the test
// answer it (or not) by hand; replies run synchronously when the test says.
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "cellular/modem_backend.h"

namespace uplink::cellular::testing {

class FakeBackend final : public ModemBackend {
 public:
  struct Command {
    std::string verb;   // enable | connect | disconnect | reset | set_primary_slot | send_pin | setup_signal
    std::string modem;
    ConnectRequest request;
    int number = 0;      // slot or seconds
    std::string pin;
    Done done;
    Connected connected;
  };

  void start(Listener& l) override { listener = &l; ++starts; }
  void stop() override { listener = nullptr; ++stops; }
  void enable(const std::string& m, Done d) override { push({"enable", m, {}, 0, {}, std::move(d), {}}); }
  void connect(const std::string& m, const ConnectRequest& r, Connected d) override {
    push({"connect", m, r, 0, {}, {}, std::move(d)});
  }
  void disconnect(const std::string& m, Done d) override { push({"disconnect", m, {}, 0, {}, std::move(d), {}}); }
  void reset(const std::string& m, Done d) override { push({"reset", m, {}, 0, {}, std::move(d), {}}); }
  void set_primary_slot(const std::string& m, int slot, Done d) override {
    push({"set_primary_slot", m, {}, slot, {}, std::move(d), {}});
  }
  void send_pin(const std::string& m, const std::string& pin, Done d) override {
    push({"send_pin", m, {}, 0, pin, std::move(d), {}});
  }
  void setup_signal(const std::string& m, int s, Done d) override {
    if (d) d(Result<void>{});
    signal_setups.push_back(m + ":" + std::to_string(s));
  }

  // The oldest unanswered command (test fails loudly when absent).
  bool has(const std::string& verb) const {
    for (const auto& c : pending)
      if (c.verb == verb) return true;
    return false;
  }
  Command take(const std::string& verb) {
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if (it->verb == verb) {
        Command c = std::move(*it);
        pending.erase(it);
        return c;
      }
    throw std::runtime_error("no pending " + verb + " (log: " + joined() + ")");
  }
  int count(const std::string& verb) const {
    int n = 0;
    for (const auto& v : log)
      if (v == verb) ++n;
    return n;
  }
  std::string joined() const {
    std::string s;
    for (const auto& v : log) s += (s.empty() ? "" : ",") + v;
    return s;
  }

  Listener* listener = nullptr;
  int starts = 0, stops = 0;
  std::deque<Command> pending;
  std::vector<std::string> log;
  std::vector<std::string> signal_setups;

 private:
  void push(Command c) {
    log.push_back(c.verb);
    pending.push_back(std::move(c));
  }
};

}  // namespace uplink::cellular::testing
