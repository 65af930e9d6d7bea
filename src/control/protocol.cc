#include "control/protocol.h"
#include "control/verbs.h"

namespace uplink::control {

LineFramer::Next LineFramer::next() {
  if (too_long_) return {Status::too_long, {}};
  for (;;) {
    size_t nl = buf_.find('\n');
    if (nl == std::string::npos) {
      if (buf_.size() > max_line_) {
        too_long_ = true;
        buf_.clear();
        return {Status::too_long, {}};
      }
      return {Status::need_more, {}};
    }
    if (nl > max_line_) {
      too_long_ = true;
      buf_.clear();
      return {Status::too_long, {}};
    }
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are keep-alives
    return {Status::line, std::move(line)};
  }
}

namespace {

using F = FieldType;

std::string_view type_name(FieldType t) {
  switch (t) {
    case F::string: return "a string";
    case F::boolean: return "a boolean";
    case F::integer: return "an integer";
    case F::object: return "an object";
    case F::array: return "an array";
    case F::any: return "a value";
  }
  return "a value";
}

bool has_type(const Json& v, FieldType t) {
  switch (t) {
    case F::string: return v.is_string();
    case F::boolean: return v.is_boolean();
    case F::integer: return v.is_number_integer();
    case F::object: return v.is_object();
    case F::array: return v.is_array();
    case F::any: return true;
  }
  return false;
}

constexpr FieldSpec kName{"name", F::string, true};

}  // namespace

const std::vector<CommandSpec>& command_specs() {
  static const std::vector<CommandSpec> specs = {
      {"ping", {}, "liveness check; result {\"version\":...}"},
      {"status", {}, "links, policies and daemon state"},
      {"links", {}, "all links with their runtime state"},
      {"link.show", {kName}, "one link: runtime state and configuration"},
      {"link.enable", {kName}, "set enabled = true in the file; state leaves disabled at once", true},
      {"link.disable", {kName}, "set enabled = false in the file; state becomes disabled at once", true},
      {"link.add", {kName, {"set", F::object, true}}, "add [links.NAME] with the given keys", true},
      {"link.set", {kName, {"set", F::object, false}, {"unset", F::array, false}}, "set/unset keys of a link", true},
      {"link.remove", {kName}, "remove [links.NAME] (and its sub-tables)", true},
      {"policy.show", {{"name", F::string, false}}, "one policy, or all when name is absent"},
      {"policy.add",
       {kName, {"mode", F::string, true}, {"members", F::array, true}, {"last_resort", F::string, false}},
       "add [policies.NAME]", true},
      {"policy.set", {kName, {"set", F::object, false}, {"members", F::array, false}}, "set keys / members", true},
      {"policy.remove", {kName}, "remove [policies.NAME]", true},
      {"rule.show", {{"name", F::string, false}}, "one rule, or all in order"},
      {"rule.add", {kName, {"set", F::object, true}, {"before", F::string, false}}, "add a [[rules]] entry", true},
      {"rule.set", {kName, {"set", F::object, false}, {"unset", F::array, false}}, "set/unset keys of a rule", true},
      {"rule.remove", {kName}, "remove a rule", true},
      {"config.show", {}, "the effective configuration as TOML"},
      {"reload", {}, "re-read the configuration file and apply it atomically", true},
      {"events", {{"follow", F::boolean, false}}, "recent events; follow=true streams new ones"},
      {"metrics", {}, "Prometheus text exposition"},
      {"verbs", {}, "the verbs modules registered, with usage and help"},
  };
  return specs;
}

const CommandSpec* find_command(std::string_view name) {
  for (const auto& s : command_specs()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string Request::str(std::string_view field) const {
  auto it = args.find(field);
  return it != args.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::string> Request::opt_str(std::string_view field) const {
  auto it = args.find(field);
  if (it == args.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool Request::flag(std::string_view field) const {
  auto it = args.find(field);
  return it != args.end() && it->is_boolean() && it->get<bool>();
}

Result<Request> parse_request(std::string_view line, const VerbRegistry* verbs) {
  if (line.size() > kMaxRequestBytes) {
    return make_error("request too large: more than " + std::to_string(kMaxRequestBytes) + " bytes");
  }
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("invalid request: not valid JSON");
  if (!j.is_object()) return make_error("invalid request: expected a JSON object like {\"cmd\":\"status\"}");
  auto cmd = j.find("cmd");
  if (cmd == j.end()) return make_error("invalid request: missing field \"cmd\"");
  if (!cmd->is_string()) return make_error("invalid request: field \"cmd\" must be a string");
  std::string name = cmd->get<std::string>();
  const CommandSpec* spec = find_command(name);
  if (!spec && verbs) spec = verbs->spec(name);
  if (!spec) return make_error("unknown command '" + name + "'");
  for (const auto& f : spec->fields) {
    auto it = j.find(f.name);
    if (it == j.end()) {
      if (f.required) return make_error(name + ": missing field \"" + std::string(f.name) + "\"");
      continue;
    }
    if (!has_type(*it, f.type)) {
      return make_error(name + ": field \"" + std::string(f.name) + "\" must be " + std::string(type_name(f.type)));
    }
    if (f.type == F::string && f.name == "name" && it->get<std::string>().empty()) {
      return make_error(name + ": field \"name\" must not be empty");
    }
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "cmd") continue;
    bool known = false;
    for (const auto& f : spec->fields) known = known || f.name == it.key();
    if (!known) return make_error(name + ": unknown field \"" + it.key() + "\"");
  }
  Request req{std::move(name), std::move(j), spec->changes_state};
  if (req.changes_state && verbs) {
    const Verb* verb = verbs->find(req.cmd);
    if (verb && verb->read_only_form && verb->read_only_form(req)) req.changes_state = false;
  }
  return req;
}

std::string encode_line(const Json& object) {
  std::string s = object.dump(-1, ' ', false, Json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

std::string encode_request(const Json& request) { return encode_line(request); }

std::string encode_ok(const Json& result) { return encode_line(Json{{"ok", true}, {"result", result}}); }

std::string encode_error(std::string_view message) {
  return encode_line(Json{{"ok", false}, {"error", std::string(message)}});
}

Result<Json> decode_response(std::string_view line) {
  Json j = Json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("malformed response from uplinkd: not a JSON object");
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return make_error("malformed response from uplinkd: no \"ok\" field");
  if (ok->get<bool>()) {
    auto r = j.find("result");
    return r == j.end() ? Json() : *r;
  }
  auto e = j.find("error");
  if (e == j.end() || !e->is_string()) return make_error("uplinkd reported an error without a message");
  return make_error(e->get<std::string>());
}

}  // namespace uplink::control
