#pragma once
// In-memory nftables for unit tests. It understands exactly the commands the
// Programmer emits: a whole-table load ("table inet uplinkd {}" / "delete
// table inet uplinkd" / the table text), "flush chain inet uplinkd C",
// "add rule inet uplinkd C ..." and "flush set inet uplinkd S". Anything else is an error, so a test fails
// if the Programmer starts emitting something new.
#include <functional>
#include <sstream>

#include "net/kernel_state.h"
#include "net/nft_monitor.h"
#include "net/nftables.h"

namespace uplink {

class FakeNftables final : public Nftables {
 public:
  std::optional<std::string> table;  // the table text, as `render()` produces it
  std::vector<std::string> scripts;  // every script run, in order
  std::vector<std::string> flushed_sets;  // "flush set" commands, in order
  bool fail_next = false;
  std::function<void()> on_run;  // called first in every run (tests observe the order of writes)

  Result<void> run(const std::string& script) override {
    if (on_run) on_run();
    scripts.push_back(script);
    if (fail_next) {
      fail_next = false;
      return make_error("nft: injected failure");
    }
    auto next = table;
    std::istringstream in(script);
    std::string line;
    const std::string prefix = std::string("table inet ") + kNftTable;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (line == prefix + " {}") {
        if (!next) next = prefix + " {\n}\n";
      } else if (line == "delete " + prefix) {
        if (!next) return make_error("nft: delete table: No such file or directory");
        next.reset();
      } else if (line == prefix + " {") {
        std::string text = line + "\n", l;
        while (std::getline(in, l)) {
          text += l + "\n";
          if (l == "}") break;
        }
        next = text;
      } else if (line.rfind("flush chain inet uplinkd ", 0) == 0) {
        if (!next || !set_body(*next, line.substr(25), std::nullopt)) return make_error("nft: no chain in " + line);
      } else if (line.rfind("flush set inet uplinkd ", 0) == 0) {
        // Elements are not modelled (no packets here): the flush is recorded.
        auto set = line.substr(23);
        if (!next || next->find("\tset " + set + " {\n") == std::string::npos)
          return make_error("nft: no set in " + line);
        flushed_sets.push_back(set);
      } else if (line.rfind("add rule inet uplinkd ", 0) == 0) {
        auto rest = line.substr(22);
        auto sp = rest.find(' ');
        if (!next || !set_body(*next, rest.substr(0, sp), rest.substr(sp + 1)))
          return make_error("nft: no chain in " + line);
      } else {
        return make_error("nft: fake does not understand '" + line + "'");
      }
    }
    table = next;
    return {};
  }
  Result<std::optional<std::string>> list_table() override { return table; }
  // Accepts what run() would accept, without changing anything.
  Result<void> check(const std::string& script) override {
    ++checks;
    if (fail_check) return make_error("nft: injected check failure");
    auto saved_table = table;
    auto saved_scripts = scripts;
    auto saved_flushes = flushed_sets;
    auto r = run(script);
    table = saved_table;
    scripts = saved_scripts;
    flushed_sets = saved_flushes;
    return r;
  }
  int checks = 0;
  bool fail_check = false;

 private:
  // flush (rule = nullopt) or append one rule to a chain of the table text.
  static bool set_body(std::string& text, const std::string& chain, const std::optional<std::string>& rule) {
    auto head = "\tchain " + chain + " {\n";
    auto pos = text.find(head);
    if (pos == std::string::npos) return false;
    auto body = pos + head.size();
    auto end = text.find("\t}\n", body);
    if (!rule) text.erase(body, end - body);
    else text.insert(end, "\t\t" + *rule + "\n");
    return true;
  }
};

}  // namespace uplink

namespace uplink {

// Tells its handler "someone else changed the table" when the test says so.
class FakeNftChangeMonitor final : public NftChangeMonitor {
 public:
  Result<void> start(Handler h) override {
    handler = std::move(h);
    return {};
  }
  void stop() override { handler = nullptr; }
  void emit() {
    if (handler) handler();
  }
  Handler handler;
};

}  // namespace uplink
