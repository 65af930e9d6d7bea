#include "daemon/control_handler.h"

#include "config/editor.h"
#include "config/writer.h"
#include "daemon/views.h"

namespace uplink {

using control::Reply;
using control::Request;

namespace {

// Protocol values may be JSON strings, numbers, booleans or arrays; the
// editor takes the CLI spelling ("a,b,c" for lists).
Result<std::string> value_text(const std::string& key, const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number()) return v.dump();
  if (v.is_array()) {
    std::string s;
    for (const auto& e : v) {
      auto t = value_text(key, e);
      if (!t) return t;
      s += (s.empty() ? "" : ",") + *t;
    }
    return s;
  }
  return make_error("value of '" + key + "' must be a string, number, boolean or list");
}

Result<std::vector<KeyValue>> key_values(const Json& obj) {
  std::vector<KeyValue> out;
  if (obj.is_null()) return out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    auto t = value_text(it.key(), it.value());
    if (!t) return t.error();
    out.push_back(KeyValue{it.key(), *t});
  }
  return out;
}

Result<std::vector<std::string>> string_list(const Json& arr, const char* what) {
  std::vector<std::string> out;
  if (arr.is_null()) return out;
  for (const auto& e : arr) {
    if (!e.is_string()) return make_error(std::string(what) + " must be a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::vector<PolicyMember>> members_of(const Json& arr) {
  std::vector<PolicyMember> out;
  for (const auto& m : arr) {
    if (!m.is_object() || !m.contains("link") || !m["link"].is_string()) {
      return make_error("members: each member must be an object with a \"link\" string");
    }
    PolicyMember pm;
    pm.link = m["link"].get<std::string>();
    if (m.contains("tier")) {
      if (!m["tier"].is_number_integer()) return make_error("members: tier of '" + pm.link + "' must be an integer");
      pm.tier = m["tier"].get<int>();
    }
    if (m.contains("weight")) {
      if (!m["weight"].is_number_integer()) return make_error("members: weight of '" + pm.link + "' must be an integer");
      pm.weight = m["weight"].get<int>();
    }
    out.push_back(std::move(pm));
  }
  return out;
}

Json opt_field(const Request& req, const char* f) {
  auto it = req.args.find(f);
  return it == req.args.end() ? Json() : *it;
}

// Chains edits: each step gets the previous step's text.
using Step = std::function<Result<std::string>(std::string_view, const std::string&)>;
Daemon::TextEdit chain(std::vector<Step> steps) {
  return [steps = std::move(steps)](std::string_view text, const std::string& path) -> Result<std::string> {
    std::string cur(text);
    for (const auto& s : steps) {
      auto r = s(cur, path);
      if (!r) return r;
      cur = std::move(*r);
    }
    return cur;
  };
}

const RuleConfig* find_rule(const Config& c, const std::string& name) {
  for (const auto& r : c.rules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

}  // namespace

std::string ControlHandler::metrics() const { return metrics_text(daemon_, metrics_extra_ ? metrics_extra_() : ""); }

Reply ControlHandler::handle(const Request& req) {
  const std::string& cmd = req.cmd;
  const std::string name = req.str("name");
  if (cmd == "ping") return Reply::success(Json{{"version", UPLINK_VERSION}});
  if (cmd == "status") return Reply::success(status_json(daemon_));
  if (cmd == "links") return Reply::success(links_json(daemon_));
  if (cmd == "link.show") return link_show(req);
  if (cmd == "link.enable" || cmd == "link.disable") {
    bool enable = cmd == "link.enable";
    if (!daemon_.config().links.count(name)) return Reply::failure("no such link '" + name + "'");
    return edit([=](std::string_view t, const std::string& p) { return set_link_enabled(t, p, name, enable); },
                Json{{"link", name}});
  }
  if (cmd == "link.add") return link_add(req);
  if (cmd == "link.set") return link_set(req);
  if (cmd == "link.remove") {
    if (!daemon_.config().links.count(name)) return Reply::failure("no such link '" + name + "'");
    return edit([=](std::string_view t, const std::string& p) { return remove_link(t, p, name); },
                Json{{"link", name}});
  }
  if (cmd == "policy.show") return policy_show(req);
  if (cmd == "policy.add") return policy_add(req);
  if (cmd == "policy.set") return policy_set(req);
  if (cmd == "policy.remove") {
    if (!daemon_.config().policies.count(name)) return Reply::failure("no such policy '" + name + "'");
    return edit([=](std::string_view t, const std::string& p) { return remove_policy(t, p, name); },
                Json{{"policy", name}});
  }
  if (cmd == "rule.show") return rule_show(req);
  if (cmd == "rule.add") return rule_add(req);
  if (cmd == "rule.set") return rule_set(req);
  if (cmd == "rule.remove") {
    if (!find_rule(daemon_.config(), name)) return Reply::failure("no such rule '" + name + "'");
    return edit([=](std::string_view t, const std::string& p) { return remove_rule(t, p, name); },
                Json{{"rule", name}});
  }
  if (cmd == "config.show") {
    return Reply::success(Json{{"path", daemon_.config_path()}, {"toml", to_toml(daemon_.config())}});
  }
  if (cmd == "reload") {
    auto r = daemon_.reload();
    if (!r) return Reply::failure(r.error().message);
    return Reply::success(Json{{"changes", r->empty() ? "no changes" : r->summary()}});
  }
  if (cmd == "events") {
    if (req.flag("follow")) return Reply::follow(Json{{"following", true}});
    Json arr = Json::array();
    for (const auto& r : daemon_.events().recent()) arr.push_back(r.json);
    return Reply::success(arr);
  }
  if (cmd == "metrics") {
    return Reply::success(Json{{"text", metrics()}});
  }
  if (cmd == "verbs") {
    Json arr = Json::array();
    for (const auto& [n, v] : daemon_.verbs().all())
      arr.push_back(Json{{"name", n}, {"usage", v.usage}, {"help", v.help}, {"owner", v.owner},
                         {"changes_state", v.changes_state}});
    return Reply::success(arr);
  }
  if (const control::Verb* v = daemon_.verbs().find(cmd)) return v->handler(req);
  // parse_request() only lets known commands through; this is a missing case here.
  return Reply::failure("command '" + cmd + "' is not implemented by this daemon");
}

Reply ControlHandler::edit(const Daemon::TextEdit& fn, Json result) {
  auto r = daemon_.edit_config(fn);
  if (!r) return Reply::failure(r.error().message);
  result["changes"] = r->empty() ? "no changes" : r->summary();
  if (result.contains("link")) {
    auto it = daemon_.links().find(result["link"].get<std::string>());
    if (it != daemon_.links().end()) result["state"] = std::string(to_string(it->second.state));
  }
  return Reply::success(std::move(result));
}

Reply ControlHandler::link_show(const Request& req) {
  const std::string name = req.str("name");
  auto it = daemon_.config().links.find(name);
  if (it == daemon_.config().links.end()) return Reply::failure("no such link '" + name + "'");
  Json detail = link_detail_json(it->second, daemon_.links().at(name));
  for (const Module* m : daemon_.modules()) m->add_link_detail(name, detail);
  return Reply::success(std::move(detail));
}

Reply ControlHandler::link_add(const Request& req) {
  LinkAddSpec spec;
  spec.name = req.str("name");
  if (daemon_.config().links.count(spec.name)) return Reply::failure("link '" + spec.name + "' already exists");
  auto kvs = key_values(req.args["set"]);
  if (!kvs) return Reply::failure("link.add: " + kvs.error().message);
  for (auto& kv : *kvs) {
    if (kv.key == "kind") {
      spec.kind = kv.value;
    } else if (kv.key == "interface") {
      spec.interface = kv.value;
    } else if (kv.key == "gateway") {
      spec.gateway = kv.value;
    } else if (kv.key == "probe.targets" || kv.key == "targets") {
      size_t start = 0;
      for (;;) {
        size_t comma = kv.value.find(',', start);
        std::string t = kv.value.substr(start, comma - start);
        if (!t.empty()) spec.targets.push_back(t);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else {
      spec.settings.push_back(std::move(kv));
    }
  }
  if (spec.kind.empty() || spec.interface.empty()) return Reply::failure("link.add: \"kind\" and \"interface\" are required");
  return edit([spec](std::string_view t, const std::string& p) { return add_link(t, p, spec); },
              Json{{"link", spec.name}});
}

Reply ControlHandler::link_set(const Request& req) {
  const std::string name = req.str("name");
  if (!daemon_.config().links.count(name)) return Reply::failure("no such link '" + name + "'");
  auto kvs = key_values(opt_field(req, "set"));
  if (!kvs) return Reply::failure("link.set: " + kvs.error().message);
  auto unset = string_list(opt_field(req, "unset"), "unset");
  if (!unset) return Reply::failure("link.set: " + unset.error().message);
  if (kvs->empty() && unset->empty()) return Reply::failure("link.set: nothing to change");
  std::vector<Step> steps;
  const std::vector<std::string> table{"links", name};
  for (const auto& kv : *kvs) {
    steps.push_back([=](std::string_view t, const std::string& p) { return set_value(t, p, table, kv.key, kv.value); });
  }
  for (const auto& key : *unset) {
    steps.push_back([=](std::string_view t, const std::string& p) { return unset_value(t, p, table, key); });
  }
  return edit(chain(std::move(steps)), Json{{"link", name}});
}

Reply ControlHandler::policy_show(const Request& req) {
  static const PolicyRuntime kNone;
  auto runtime = [&](const std::string& n) -> const PolicyRuntime& {
    auto it = daemon_.policies().find(n);
    return it == daemon_.policies().end() ? kNone : it->second;
  };
  if (auto name = req.opt_str("name")) {
    auto it = daemon_.config().policies.find(*name);
    if (it == daemon_.config().policies.end()) return Reply::failure("no such policy '" + *name + "'");
    return Reply::success(policy_json(it->second, runtime(*name)));
  }
  Json arr = Json::array();
  for (const auto& n : daemon_.config().policy_order) arr.push_back(policy_json(daemon_.config().policies.at(n), runtime(n)));
  return Reply::success(arr);
}

Reply ControlHandler::policy_add(const Request& req) {
  PolicyAddSpec spec;
  spec.name = req.str("name");
  if (daemon_.config().policies.count(spec.name)) return Reply::failure("policy '" + spec.name + "' already exists");
  spec.mode = req.str("mode");
  auto members = members_of(req.args["members"]);
  if (!members) return Reply::failure("policy.add: " + members.error().message);
  spec.members = std::move(*members);
  spec.last_resort = req.opt_str("last_resort");
  return edit([spec](std::string_view t, const std::string& p) { return add_policy(t, p, spec); },
              Json{{"policy", spec.name}});
}

Reply ControlHandler::policy_set(const Request& req) {
  const std::string name = req.str("name");
  if (!daemon_.config().policies.count(name)) return Reply::failure("no such policy '" + name + "'");
  auto kvs = key_values(opt_field(req, "set"));
  if (!kvs) return Reply::failure("policy.set: " + kvs.error().message);
  std::vector<Step> steps;
  const std::vector<std::string> table{"policies", name};
  for (const auto& kv : *kvs) {
    steps.push_back([=](std::string_view t, const std::string& p) { return set_value(t, p, table, kv.key, kv.value); });
  }
  if (Json m = opt_field(req, "members"); !m.is_null()) {
    auto members = members_of(m);
    if (!members) return Reply::failure("policy.set: " + members.error().message);
    steps.push_back([=, ms = *members](std::string_view t, const std::string& p) {
      return set_policy_members(t, p, name, ms);
    });
  }
  if (steps.empty()) return Reply::failure("policy.set: nothing to change");
  return edit(chain(std::move(steps)), Json{{"policy", name}});
}

Reply ControlHandler::rule_show(const Request& req) {
  if (auto name = req.opt_str("name")) {
    const RuleConfig* r = find_rule(daemon_.config(), *name);
    if (!r) return Reply::failure("no such rule '" + *name + "'");
    return Reply::success(rule_json(*r));
  }
  Json arr = Json::array();
  for (const auto& r : daemon_.config().rules) arr.push_back(rule_json(r));
  return Reply::success(arr);
}

Reply ControlHandler::rule_add(const Request& req) {
  RuleSpec spec;
  spec.name = req.str("name");
  if (find_rule(daemon_.config(), spec.name)) return Reply::failure("rule '" + spec.name + "' already exists");
  auto kvs = key_values(req.args["set"]);
  if (!kvs) return Reply::failure("rule.add: " + kvs.error().message);
  spec.settings = std::move(*kvs);
  auto before = req.opt_str("before");
  if (before && !find_rule(daemon_.config(), *before)) return Reply::failure("no such rule '" + *before + "'");
  return edit([spec, before](std::string_view t, const std::string& p) { return add_rule(t, p, spec, before); },
              Json{{"rule", spec.name}});
}

Reply ControlHandler::rule_set(const Request& req) {
  const std::string name = req.str("name");
  if (!find_rule(daemon_.config(), name)) return Reply::failure("no such rule '" + name + "'");
  auto kvs = key_values(opt_field(req, "set"));
  if (!kvs) return Reply::failure("rule.set: " + kvs.error().message);
  auto unset = string_list(opt_field(req, "unset"), "unset");
  if (!unset) return Reply::failure("rule.set: " + unset.error().message);
  std::vector<Step> steps;
  for (const auto& kv : *kvs) {
    steps.push_back([=](std::string_view t, const std::string& p) { return set_rule_value(t, p, name, kv.key, kv.value); });
  }
  for (const auto& key : *unset) {
    steps.push_back([=](std::string_view t, const std::string& p) { return unset_rule_value(t, p, name, key); });
  }
  if (steps.empty()) return Reply::failure("rule.set: nothing to change");
  return edit(chain(std::move(steps)), Json{{"rule", name}});
}

}  // namespace uplink
