#pragma once
// The control verbs modules bring with them (ARCHITECTURE.md §4 "Modules
// register themselves"). A module registers each verb once, with its help
// text, whether it changes state, and its handler; the control handler asks
// the registry for every command the core does not know, and `uplinkctl help`
// lists what the running daemon offers.
//
// Wire shape of a module verb: {"cmd": NAME, "argv": [words...], "json": bool}
// plus any fields the verb's spec names. `uplinkctl NAME word... [--json]`
// sends exactly that, so a new module needs no change in uplinkctl: its
// handler parses argv itself and returns a result object; "text" in the
// result is what uplinkctl prints without --json (a human table).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "control/protocol.h"
#include "control/server.h"

namespace uplink::control {

struct Verb {
  std::string name;                 // "queue", "modems", "modem", "tunnels", ...
  std::string usage;                // "modem NAME sim-slot N | modem NAME reconnect"
  std::string help;                 // one line
  bool changes_state = false;       // changes need the admin credential (peer policy)
  // For a verb that changes state: the forms of it that only read ("plugin NAME"), if any.
  std::function<bool(const Request&)> read_only_form = nullptr;
  std::vector<FieldSpec> fields;    // besides cmd, argv and json (names must be string literals)
  std::string owner;                // the module that registered it
  std::function<Reply(const Request&)> handler;
};

class VerbRegistry {
 public:
  // A duplicate name (of a core command or another verb) is a programming error: std::logic_error.
  void add(Verb verb);
  // All verbs a module registered go when it does (tests, a module removed at runtime).
  void remove_owner(const std::string& owner);
  const Verb* find(std::string_view name) const;
  const std::map<std::string, Verb, std::less<>>& all() const { return verbs_; }
  // The CommandSpec parse_request() validates against (argv, json + the verb's fields).
  const CommandSpec* spec(std::string_view name) const;

 private:
  std::map<std::string, Verb, std::less<>> verbs_;
  std::map<std::string, CommandSpec, std::less<>> specs_;
};

}  // namespace uplink::control
