// uplinkctl: the shell interface to uplinkd (ARCHITECTURE.md §2).
// Exit status: 0 ok, 1 the request failed (message on stderr), 2 usage error.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/render.h"
#include "config/loader.h"
#include "daemon/modules.h"

namespace uplink::cli {
namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

struct Globals {
  std::string socket;
  bool json = false;
};

int fail(const std::string& message) {
  std::cerr << "uplinkctl: " << message << "\n";
  return kFailed;
}

// Connects and sends one request; prints the error and returns nullopt on failure.
std::optional<Json> call(const Globals& g, const Json& req) {
  ControlClient c;
  std::string path = resolve_socket_path(g.socket);
  if (auto r = c.connect(path); !r) {
    fail(r.error().message);
    return std::nullopt;
  }
  auto res = c.request(req);
  if (!res) {
    fail(res.error().message);
    return std::nullopt;
  }
  return std::move(*res);
}

void print_json(const Json& j) { std::cout << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n"; }

// A read verb: JSON as is with --json, else the human renderer.
int show(const Globals& g, const Json& req, const std::function<std::string(const Json&)>& human) {
  auto res = call(g, req);
  if (!res) return kFailed;
  if (g.json) {
    print_json(*res);
  } else {
    std::cout << human(*res);
  }
  return kOk;
}

// A write verb: a one-line confirmation, or the daemon's JSON with --json.
int change(const Globals& g, const Json& req, const std::string& done) {
  auto res = call(g, req);
  if (!res) return kFailed;
  if (g.json) {
    print_json(*res);
    return kOk;
  }
  std::cout << done;
  if (res->is_object() && res->contains("changes") && (*res)["changes"].is_string()) {
    std::cout << " (" << (*res)["changes"].get<std::string>() << ")";
  }
  std::cout << "\n";
  return kOk;
}

int usage(const std::string& message) {
  std::cerr << "uplinkctl: " << message << "\n";
  return kUsage;
}

// A verb a module registered (control/verbs.h): the daemon parses `argv`
// itself; "text" in the result is the human form.
int module_verb(const Globals& g, const std::string& verb, const std::vector<std::string>& args) {
  ControlClient c;
  if (auto r = c.connect(resolve_socket_path(g.socket)); !r) return fail(r.error().message);
  auto res = c.request(Json{{"cmd", verb}, {"argv", args}, {"json", g.json}});
  if (!res) {
    // No module of this daemon registers it (e.g. modems without the cellular module).
    if (res.error().message == "unknown command '" + verb + "'")
      return fail(verb + ": not available in this build (uplinkctl verbs lists what this daemon offers)");
    return fail(res.error().message);
  }
  if (g.json) {
    Json out = *res;
    if (out.is_object()) out.erase("text");
    print_json(out);
  } else if (res->is_object() && res->contains("text") && (*res)["text"].is_string()) {
    std::cout << (*res)["text"].get<std::string>();
  } else {
    print_json(*res);
  }
  return kOk;
}

// uplinkctl [--socket P] [--json] VERB args...: when VERB is not one of the
// core subcommands, it is a module's verb: sent as is, so a new module needs
// no change here. nullopt: a core subcommand (or none), CLI11 parses it.
std::optional<int> try_module_verb(CLI::App& app, int argc, char** argv, Globals& g) {
  std::vector<std::string> rest;
  std::string verb;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (verb.empty()) {
      if (a == "--socket" && i + 1 < argc) {
        g.socket = argv[++i];
      } else if (a.rfind("--socket=", 0) == 0) {
        g.socket = a.substr(9);
      } else if (a == "--json") {
        g.json = true;
      } else if (!a.empty() && a[0] == '-') {
        return std::nullopt;  // --help, --version, a typo: CLI11 answers
      } else {
        verb = a;
      }
      continue;
    }
    if (a == "--json") g.json = true;
    else rest.push_back(a);
  }
  if (verb.empty()) return std::nullopt;
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == verb) return std::nullopt;
  return module_verb(g, verb, rest);
}

int config_check(const std::string& file) {
  register_module_configs();  // the sections modules own are checked too, as uplinkd checks them
  try {
    load_config_file(file);
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return kFailed;
  } catch (const std::exception& e) {
    std::cerr << file << ": " << e.what() << "\n";
    return kFailed;
  }
  std::cout << file << ": ok\n";
  return kOk;
}

int events(const Globals& g, bool follow) {
  auto print = [&](const Json& ev) {
    // One line per event in both forms (ARCHITECTURE.md §2), flushed: a
    // script reading a pipe must see each change at once.
    if (g.json) {
      std::cout << ev.dump(-1, ' ', false, Json::error_handler_t::replace) << std::endl;
    } else {
      std::cout << render_event(ev) << std::endl;
    }
    return static_cast<bool>(std::cout);
  };
  if (!follow) {
    auto res = call(g, Json{{"cmd", "events"}});
    if (!res) return kFailed;
    for (const auto& e : *res) print(e);
    return kOk;
  }
  ControlClient c;
  if (auto r = c.connect(resolve_socket_path(g.socket)); !r) return fail(r.error().message);
  // Ends when uplinkd stops, or at once when the reader of stdout goes away.
  auto r = c.follow(Json{{"cmd", "events"}, {"follow", true}}, print, STDOUT_FILENO);
  if (!r) return fail(r.error().message);
  return kOk;
}

int run(int argc, char** argv) {
  CLI::App app{"uplinkctl: control and inspect uplinkd, the multi-WAN failover controller"};
  app.require_subcommand(1);
  app.fallthrough();  // --json/--socket may follow the verb
  Globals g;
  app.add_option("--socket", g.socket, "control socket (default: $UPLINKD_SOCKET or /run/uplinkd/control.sock)");
  app.add_flag("--json", g.json, "print exact JSON instead of a table");

  std::function<int()> action;
  auto on = [&](CLI::App* sub, std::function<int()> fn) { sub->callback([&action, fn] { action = fn; }); };

  // status, links
  on(app.add_subcommand("status", "links and policies with their state"),
     [&] { return show(g, Json{{"cmd", "status"}}, render_status); });
  on(app.add_subcommand("links", "all links with their state"),
     [&] { return show(g, Json{{"cmd", "links"}}, render_links); });

  // link ...
  auto* link = app.add_subcommand("link", "show, add, change, remove, enable or disable one link");
  link->require_subcommand(1);
  std::string name;
  {
    auto* s = link->add_subcommand("show", "one link: state and configuration");
    s->add_option("NAME", name, "link name")->required();
    on(s, [&] { return show(g, Json{{"cmd", "link.show"}, {"name", name}}, render_link); });
    auto* en = link->add_subcommand("enable", "administratively enable a link (written to the file)");
    en->add_option("NAME", name)->required();
    on(en, [&] { return change(g, Json{{"cmd", "link.enable"}, {"name", name}}, "link " + name + " enabled"); });
    auto* dis = link->add_subcommand("disable", "administratively disable a link (written to the file)");
    dis->add_option("NAME", name)->required();
    on(dis, [&] { return change(g, Json{{"cmd", "link.disable"}, {"name", name}}, "link " + name + " disabled"); });
    auto* rm = link->add_subcommand("remove", "remove a link from the configuration");
    rm->add_option("NAME", name)->required();
    on(rm, [&] { return change(g, Json{{"cmd", "link.remove"}, {"name", name}}, "link " + name + " removed"); });
  }
  std::string kind, iface, gateway, method, last_resort;
  std::vector<std::string> targets, kvs, unset, members;
  bool metered = false;
  int table = 0;
  {
    auto* add = link->add_subcommand("add", "add a link to the configuration");
    add->add_option("NAME", name)->required();
    add->add_option("--kind", kind, "ethernet | broadband | cellular | wireguard")->required();
    add->add_option("--interface", iface, "network interface")->required();
    add->add_option("--gateway", gateway, "next hop (else learned)");
    add->add_option("--target", targets, "probe target (repeatable)")->allow_extra_args(false);
    add->add_option("--method", method, "probe method: icmp | udp | tcp | dns | http");
    add->add_flag("--metered", metered, "metered link (probes less often)");
    add->add_option("--table", table, "routing table id (default: automatic)")->check(CLI::Range(1, 0x7fffffff));
    on(add, [&] {
      Json set{{"kind", kind}, {"interface", iface}};
      if (!gateway.empty()) set["gateway"] = gateway;
      if (!targets.empty()) {
        std::string joined;
        for (const auto& t : targets) joined += (joined.empty() ? "" : ",") + t;
        set["probe.targets"] = joined;
      }
      if (!method.empty()) set["probe.method"] = method;
      if (metered) set["metered"] = "true";
      if (table) set["table"] = std::to_string(table);
      return change(g, Json{{"cmd", "link.add"}, {"name", name}, {"set", set}}, "link " + name + " added");
    });
    auto* set = link->add_subcommand("set", "change keys of a link: KEY=VALUE (e.g. probe.interval=500ms)");
    set->add_option("NAME", name)->required();
    set->add_option("KEY=VALUE", kvs, "assignments");
    set->add_option("--unset", unset, "remove a key (back to its default); repeatable")->allow_extra_args(false);
    on(set, [&]() -> int {
      auto a = parse_assignments(kvs);
      if (!a) return usage(a.error().message);
      if (a->empty() && unset.empty()) return usage("link set: nothing to change (give KEY=VALUE or --unset KEY)");
      Json req{{"cmd", "link.set"}, {"name", name}, {"set", *a}};
      if (!unset.empty()) req["unset"] = unset;
      return change(g, req, "link " + name + " updated");
    });
  }

  // policy ...
  auto* policy = app.add_subcommand("policy", "show, add, change or remove policies");
  policy->require_subcommand(1);
  std::string mode;
  {
    auto* s = policy->add_subcommand("show", "one policy, or all");
    s->add_option("NAME", name);
    on(s, [&] {
      Json req{{"cmd", "policy.show"}};
      if (!name.empty()) req["name"] = name;
      return show(g, req, [](const Json& r) { return render_policies(r.is_array() ? r : Json::array({r})); });
    });
    auto* add = policy->add_subcommand("add", "add a policy");
    add->add_option("NAME", name)->required();
    add->add_option("--mode", mode, "failover | balance | quality")->required();
    add->add_option("--member", members, "LINK[:TIER[:WEIGHT]] (repeatable, in order)")->required()->allow_extra_args(false);
    add->add_option("--last-resort", last_resort, "unreachable | blackhole | main");
    on(add, [&]() -> int {
      auto m = parse_members(members);
      if (!m) return usage(m.error().message);
      Json req{{"cmd", "policy.add"}, {"name", name}, {"mode", mode}, {"members", *m}};
      if (!last_resort.empty()) req["last_resort"] = last_resort;
      return change(g, req, "policy " + name + " added");
    });
    auto* set = policy->add_subcommand("set", "change keys (mode=..., last_resort=...) or replace the members");
    set->add_option("NAME", name)->required();
    set->add_option("KEY=VALUE", kvs, "assignments");
    set->add_option("--member", members, "LINK[:TIER[:WEIGHT]]: replaces the member list")->allow_extra_args(false);
    on(set, [&]() -> int {
      auto a = parse_assignments(kvs);
      if (!a) return usage(a.error().message);
      Json req{{"cmd", "policy.set"}, {"name", name}};
      if (!a->empty()) req["set"] = *a;
      if (!members.empty()) {
        auto m = parse_members(members);
        if (!m) return usage(m.error().message);
        req["members"] = *m;
      }
      if (a->empty() && members.empty()) return usage("policy set: nothing to change");
      return change(g, req, "policy " + name + " updated");
    });
    auto* rm = policy->add_subcommand("remove", "remove a policy");
    rm->add_option("NAME", name)->required();
    on(rm, [&] { return change(g, Json{{"cmd", "policy.remove"}, {"name", name}}, "policy " + name + " removed"); });
  }

  // rule ...
  auto* rule = app.add_subcommand("rule", "show, add, change or remove traffic rules");
  rule->require_subcommand(1);
  std::string r_policy, r_src, r_dst, r_proto, r_dport, r_sport, r_iif, r_sticky, r_before;
  bool r_local = false;
  {
    auto* s = rule->add_subcommand("show", "one rule, or all in order");
    s->add_option("NAME", name);
    on(s, [&] {
      Json req{{"cmd", "rule.show"}};
      if (!name.empty()) req["name"] = name;
      return show(g, req, [](const Json& r) { return render_rules(r.is_array() ? r : Json::array({r})); });
    });
    auto* add = rule->add_subcommand("add", "add a rule (appended, or before another)");
    add->add_option("NAME", name)->required();
    add->add_option("--policy", r_policy, "policy for matching traffic")->required();
    add->add_option("--source", r_src, "source CIDR");
    add->add_option("--destination", r_dst, "destination CIDR");
    add->add_option("--protocol", r_proto, "tcp | udp | icmp | icmpv6");
    add->add_option("--dport", r_dport, "destination port or range (N or N-M)");
    add->add_option("--sport", r_sport, "source port or range");
    add->add_option("--iif", r_iif, "input interface");
    add->add_flag("--local", r_local, "match traffic the router originates");
    add->add_option("--sticky", r_sticky, "keep a flow on its link, e.g. 10m");
    add->add_option("--before", r_before, "insert before this rule");
    on(add, [&] {
      Json set{{"policy", r_policy}};
      auto put = [&](const char* k, const std::string& v) {
        if (!v.empty()) set[k] = v;
      };
      put("source", r_src);
      put("destination", r_dst);
      put("protocol", r_proto);
      put("destination_port", r_dport);
      put("source_port", r_sport);
      put("input_interface", r_iif);
      put("sticky", r_sticky);
      if (r_local) set["local"] = "true";
      Json req{{"cmd", "rule.add"}, {"name", name}, {"set", set}};
      if (!r_before.empty()) req["before"] = r_before;
      return change(g, req, "rule " + name + " added");
    });
    auto* set = rule->add_subcommand("set", "change keys of a rule: KEY=VALUE");
    set->add_option("NAME", name)->required();
    set->add_option("KEY=VALUE", kvs, "assignments");
    set->add_option("--unset", unset, "remove a key; repeatable")->allow_extra_args(false);
    on(set, [&]() -> int {
      auto a = parse_assignments(kvs);
      if (!a) return usage(a.error().message);
      if (a->empty() && unset.empty()) return usage("rule set: nothing to change");
      Json req{{"cmd", "rule.set"}, {"name", name}, {"set", *a}};
      if (!unset.empty()) req["unset"] = unset;
      return change(g, req, "rule " + name + " updated");
    });
    auto* rm = rule->add_subcommand("remove", "remove a rule");
    rm->add_option("NAME", name)->required();
    on(rm, [&] { return change(g, Json{{"cmd", "rule.remove"}, {"name", name}}, "rule " + name + " removed"); });
  }

  // config ...
  auto* config = app.add_subcommand("config", "check a file offline, or show the effective configuration");
  config->require_subcommand(1);
  std::string file;
  {
    auto* check = config->add_subcommand("check", "validate FILE offline; errors as FILE:LINE:COL: message");
    check->add_option("FILE", file)->required();
    on(check, [&] { return config_check(file); });
    auto* s = config->add_subcommand("show", "the effective configuration (defaults filled in), as TOML");
    on(s, [&] {
      return show(g, Json{{"cmd", "config.show"}}, [](const Json& r) { return r.value("toml", std::string()); });
    });
  }
  on(app.add_subcommand("reload", "re-read the configuration file and apply it atomically"),
     [&] { return change(g, Json{{"cmd", "reload"}}, "configuration reloaded"); });
  bool follow = false;
  {
    auto* ev = app.add_subcommand("events", "link state and policy changes, one per line");
    ev->add_flag("-f,--follow", follow, "keep streaming new events");
    on(ev, [&] { return events(g, follow); });
  }
  on(app.add_subcommand("metrics", "Prometheus text exposition"), [&]() -> int {
    auto res = call(g, Json{{"cmd", "metrics"}});
    if (!res) return kFailed;
    std::cout << res->value("text", std::string());
    return kOk;
  });

  on(app.add_subcommand("verbs", "the verbs the running daemon's modules offer (uplinkctl VERB ...)"), [&] {
    return show(g, Json{{"cmd", "verbs"}}, [](const Json& r) {
      std::string out;
      for (const auto& v : r) {
        std::string usage = v.value("usage", v.value("name", ""));
        out += usage + std::string(usage.size() < 40 ? 40 - usage.size() : 1, ' ') + v.value("help", "") + "\n";
      }
      return out.empty() ? std::string("no module verbs\n") : out;
    });
  });
  app.footer(
      "Module verbs (modems, tunnels, queue, plugins, ...): uplinkctl verbs\n"
      "Access: reading needs root or daemon.socket_group; changes (edits, reload, publish, modem,\n"
      "plugin restart/model) need root or daemon.admin_group.\n"
      "Exit status: 0 ok; 1 the request failed (message on stderr); 2 usage.");

  if (auto rc = try_module_verb(app, argc, argv, g)) return *rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }
  if (!action) return kUsage;
  return action();
}

}  // namespace
}  // namespace uplink::cli

int main(int argc, char** argv) { return uplink::cli::run(argc, argv); }
