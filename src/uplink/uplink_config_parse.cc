// Parser of [uplink], [uplink.queue] and [[uplink.classes]], registered in the
// section registry. Every problem is reported with its position; secrets are
// read through SectionContext::get_secret and never appear in a message.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "common/strings.h"
#include "config/section.h"
#include "uplink/uplink_config.h"

namespace uplink {

namespace {

bool valid_class_name(const std::string& n) {
  if (n.empty() || n.size() > 32) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::string default_client_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) return "uplinkd";
  return std::string("uplinkd-") + host;
}

const std::vector<std::string> kMethods = {"status",   "reload",         "link_enable",  "link_disable",
                                           "sim_slot", "plugin_restart", "model_install"};

std::shared_ptr<const SectionValue> parse_uplink(const toml::node& node, SectionContext& ctx) {
  const toml::table* t = ctx.want_table(node, "uplink");
  if (!t) return nullptr;
  const std::string P = "uplink";
  ctx.check_keys(*t, P,
                 {"broker", "platform", "client_id", "access_token", "username", "password", "cert_file", "key_file",
                  "ca_file", "keepalive", "policy", "telemetry_interval", "max_message", "socket", "topic", "window",
                  "reconnect_min", "reconnect_max", "rpc_methods", "queue", "classes"});
  auto u = std::make_shared<UplinkConfig>();
  u->client_id = default_client_id();
  if (auto v = ctx.get_string(*t, "broker", P, /*required=*/true)) {
    auto url = parse_broker_url(*v);
    if (url.ok()) u->broker = *url;
    else ctx.error(*t->get("broker"), "uplink.broker", url.error().message);
  }
  if (auto v = ctx.get_string(*t, "platform", P)) {
    if (*v == "thingsboard") u->platform = Platform::thingsboard;
    else if (*v == "generic") u->platform = Platform::generic;
    else ctx.error(*t->get("platform"), "uplink.platform", "must be thingsboard | generic, got '" + *v + "'");
  }
  if (auto v = ctx.get_string(*t, "client_id", P)) {
    if (v->empty() || v->size() > 128) ctx.error(*t->get("client_id"), "uplink.client_id", "must be 1..128 characters");
    else u->client_id = *v;
  }
  u->access_token = ctx.get_secret(*t, "access_token", P);
  if (auto v = ctx.get_string(*t, "username", P)) u->username = *v;
  u->password = ctx.get_secret(*t, "password", P);
  if (u->access_token && (!u->username.empty() || u->password))
    ctx.error_at_key(*t, "access_token", "uplink.access_token",
                     "give access_token or username/password, not both (the token is the MQTT username)");
  if (u->password && u->username.empty())
    ctx.error_at_key(*t, "password", "uplink.password", "password needs username");
  for (auto [key, field] : {std::pair{"cert_file", &u->cert_file}, std::pair{"key_file", &u->key_file},
                            std::pair{"ca_file", &u->ca_file}}) {
    auto v = ctx.get_string(*t, key, P);
    if (!v) continue;
    const std::string path = std::string("uplink.") + key;
    if (v->find("-----BEGIN") != std::string::npos) {
      // Never echo it: it may be a private key pasted in.
      ctx.error(*t->get(key), path, "must be the path of a PEM file, not its contents");
    } else if (v->empty() || v->front() != '/') {
      ctx.error(*t->get(key), path, "must be an absolute path");
    } else if (access(v->c_str(), R_OK) != 0) {
      ctx.error(*t->get(key), path, "cannot read " + *v + ": " + std::strerror(errno));
    } else {
      *field = *v;
    }
  }
  if (!u->key_file.empty() && u->cert_file.empty())
    ctx.error_at_key(*t, "key_file", "uplink.key_file", "key_file needs cert_file");
  if (!u->cert_file.empty() && u->key_file.empty())
    ctx.error_at_key(*t, "cert_file", "uplink.cert_file", "cert_file needs key_file");
  if (!u->broker.tls && !u->broker.host.empty()) {
    for (const char* key : {"cert_file", "key_file", "ca_file"})
      if (t->contains(key))
        ctx.error_at_key(*t, key, std::string("uplink.") + key, "TLS settings need an mqtts:// broker");
  }
  if (auto v = ctx.get_duration(*t, "keepalive", P)) {
    if (*v < std::chrono::seconds(5) || *v > std::chrono::hours(18))
      ctx.error(*t->get("keepalive"), "uplink.keepalive", "must be between 5s and 18h");
    else u->keepalive = *v;
  }
  if (auto v = ctx.get_string(*t, "policy", P)) {
    u->policy = *v;
    u->policy_line = int(t->get("policy")->source().begin.line);
    u->policy_column = int(t->get("policy")->source().begin.column);
  }
  if (auto v = ctx.get_duration(*t, "telemetry_interval", P)) u->telemetry_interval = *v;
  if (auto v = ctx.get_size(*t, "max_message", P)) {
    if (*v == 0 || *v > (64ull << 20)) ctx.error(*t->get("max_message"), "uplink.max_message", "must be 1B..64MiB");
    else u->max_message = *v;
  }
  if (auto v = ctx.get_string(*t, "socket", P)) {
    if (v->empty() || v->front() != '/') ctx.error(*t->get("socket"), "uplink.socket", "must be an absolute path");
    else if (v->size() > 100) ctx.error(*t->get("socket"), "uplink.socket", "is longer than a unix socket path may be");
    else u->socket = *v;
  }
  if (auto v = ctx.get_string(*t, "topic", P)) {
    if (v->empty() || v->find_first_of("+#") != std::string::npos)
      ctx.error(*t->get("topic"), "uplink.topic", "must be a non-empty topic without wildcards");
    else u->topic = *v;
  }
  if (auto v = ctx.get_int(*t, "window", P, 1, 65535)) u->window = int(*v);
  if (auto v = ctx.get_duration(*t, "reconnect_min", P)) u->reconnect_min = *v;
  if (auto v = ctx.get_duration(*t, "reconnect_max", P)) u->reconnect_max = *v;
  if (u->reconnect_max < u->reconnect_min)
    ctx.error_at_key(*t, "reconnect_max", "uplink.reconnect_max", "must not be shorter than reconnect_min");
  if (auto v = ctx.get_string_array(*t, "rpc_methods", P)) {
    bool ok = true;
    for (const auto& m : *v) {
      if (std::find(kMethods.begin(), kMethods.end(), m) == kMethods.end()) {
        ctx.error(*t->get("rpc_methods"), "uplink.rpc_methods",
                  "unknown method '" + m + "' (" + join(kMethods, "", ", ") + ")");
        ok = false;
      }
    }
    if (ok) u->rpc_methods = *v;
  }

  if (const toml::table* q = ctx.get_table(*t, "queue", P)) {
    const std::string Q = "uplink.queue";
    ctx.check_keys(*q, Q, {"path", "max_size", "sync", "commit_interval", "replay_rate"});
    if (auto v = ctx.get_string(*q, "path", Q)) {
      if (v->empty() || v->front() != '/') ctx.error(*q->get("path"), "uplink.queue.path", "must be an absolute path");
      else u->queue_path = *v;
    }
    if (auto v = ctx.get_size(*q, "max_size", Q)) {
      if (*v < (1ull << 20)) ctx.error(*q->get("max_size"), "uplink.queue.max_size", "must be at least 1MiB");
      else u->max_size = *v;
    }
    if (auto v = ctx.get_string(*q, "sync", Q)) {
      if (auto mode = parse_sync_mode(*v)) u->sync = *mode;
      else ctx.error(*q->get("sync"), "uplink.queue.sync", "must be batch | always | never, got '" + *v + "'");
    }
    if (auto v = ctx.get_duration(*q, "commit_interval", Q)) {
      if (*v > std::chrono::seconds(10))
        ctx.error(*q->get("commit_interval"), "uplink.queue.commit_interval", "must be at most 10s");
      else u->commit_interval = *v;
    }
    if (auto v = ctx.get_number(*q, "replay_rate", Q)) {
      if (*v <= 0 || *v > 1e6) ctx.error(*q->get("replay_rate"), "uplink.queue.replay_rate", "must be in (0, 1000000]");
      else u->replay_rate = *v;
    }
  }
  if (u->max_message > u->max_size)
    ctx.error_at_key(*t, "max_message", "uplink.max_message", "must not exceed uplink.queue.max_size");

  if (auto arr = ctx.get_table_array(*t, "classes", P)) {
    std::vector<QueueClass> classes;
    std::set<std::string> seen;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table& c = *(*arr)[i];
      const std::string C = "uplink.classes[" + std::to_string(i) + "]";
      ctx.check_keys(c, C, {"name", "ttl"});
      QueueClass qc;
      if (auto v = ctx.get_string(c, "name", C, /*required=*/true)) {
        if (!valid_class_name(*v)) ctx.error(*c.get("name"), C + ".name", "must be 1..32 letters, digits, _ or -");
        else if (!seen.insert(*v).second) ctx.error(*c.get("name"), C + ".name", "class '" + *v + "' is listed twice");
        qc.name = *v;
      }
      if (auto v = ctx.get_duration(c, "ttl", C)) qc.ttl = *v;
      classes.push_back(qc);
    }
    if (classes.empty()) ctx.error(*t->get("classes"), "uplink.classes", "at least one class is needed");
    else u->classes = classes;
  }
  return u;
}

void validate_uplink(const Config& c, SectionContext& ctx) {
  auto* u = c.section<UplinkConfig>("uplink");
  if (!u || u->policy.empty()) return;
  if (!c.policies.count(u->policy))
    ctx.error_at(u->policy_line, u->policy_column, "uplink.policy", "policy '" + u->policy + "' does not exist");
}

}  // namespace

void register_uplink_config(SectionRegistry& registry) {
  registry.add(SectionSpec{.name = "uplink", .parse = parse_uplink, .validate = validate_uplink});
}

}  // namespace uplink
