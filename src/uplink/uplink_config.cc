#include "uplink/uplink_config.h"

#include <charconv>

#include "common/units.h"
#include "config/toml_text.h"

namespace uplink {

std::string_view to_string(Platform p) { return p == Platform::thingsboard ? "thingsboard" : "generic"; }

Result<BrokerUrl> parse_broker_url(std::string_view text) {
  BrokerUrl u;
  u.original = std::string(text);
  std::string_view rest;
  if (text.rfind("mqtts://", 0) == 0) {
    u.tls = true;
    rest = text.substr(8);
  } else if (text.rfind("mqtt://", 0) == 0) {
    rest = text.substr(7);
  } else {
    return make_error("must start with mqtt:// or mqtts://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return make_error("unterminated [IPv6 address]");
    u.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return make_error("expected :PORT after ]");
      port = rest.substr(1);
    }
  } else {
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      rest = rest.substr(0, colon);
    }
    u.host = std::string(rest);
  }
  if (u.host.empty()) return make_error("no host");
  if (u.host.find_first_of("/?#@ ") != std::string::npos) return make_error("host '" + u.host + "' is not valid");
  u.port = u.tls ? 8883 : 1883;
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535)
      return make_error("port '" + std::string(port) + "' is not 1..65535");
    u.port = uint16_t(v);
  }
  return u;
}

bool UplinkConfig::same_connection(const UplinkConfig& o) const {
  return broker == o.broker && platform == o.platform && client_id == o.client_id && access_token == o.access_token &&
         username == o.username && password == o.password && cert_file == o.cert_file && key_file == o.key_file &&
         ca_file == o.ca_file && keepalive == o.keepalive && window == o.window;
}

bool UplinkConfig::same_queue(const UplinkConfig& o) const {
  return queue_path == o.queue_path && max_size == o.max_size && sync == o.sync &&
         commit_interval == o.commit_interval && classes == o.classes && max_message == o.max_message;
}

bool UplinkConfig::equals(const SectionValue& other) const {
  auto* o = dynamic_cast<const UplinkConfig*>(&other);
  return o && same_connection(*o) && same_queue(*o) && policy == o->policy &&
         telemetry_interval == o->telemetry_interval && socket == o->socket && topic == o->topic &&
         reconnect_min == o->reconnect_min && reconnect_max == o->reconnect_max && rpc_methods == o->rpc_methods &&
         replay_rate == o->replay_rate;
}

std::string UplinkConfig::to_toml(bool mask) const {
  std::string s = "[uplink]\n";
  s += "broker = " + toml_quote(broker.original) + "\n";
  s += "platform = " + toml_quote(to_string(platform)) + "\n";
  s += "client_id = " + toml_quote(client_id) + "\n";
  if (access_token) s += "access_token = " + access_token->to_toml(mask) + "\n";
  if (!username.empty()) s += "username = " + toml_quote(username) + "\n";
  if (password) s += "password = " + password->to_toml(mask) + "\n";
  if (!cert_file.empty()) s += "cert_file = " + toml_quote(cert_file) + "\n";
  if (!key_file.empty()) s += "key_file = " + toml_quote(key_file) + "\n";
  if (!ca_file.empty()) s += "ca_file = " + toml_quote(ca_file) + "\n";
  s += "keepalive = " + toml_quote(format_duration(keepalive)) + "\n";
  if (!policy.empty()) s += "policy = " + toml_quote(policy) + "\n";
  s += "telemetry_interval = " + toml_quote(format_duration(telemetry_interval)) + "\n";
  s += "max_message = " + toml_quote(format_size(max_message)) + "\n";
  s += "socket = " + toml_quote(socket) + "\n";
  if (!topic.empty()) s += "topic = " + toml_quote(topic) + "\n";
  s += "window = " + std::to_string(window) + "\n";
  s += "reconnect_min = " + toml_quote(format_duration(reconnect_min)) + "\n";
  s += "reconnect_max = " + toml_quote(format_duration(reconnect_max)) + "\n";
  s += "rpc_methods = " + toml_string_array(rpc_methods) + "\n";
  s += "\n[uplink.queue]\n";
  s += "path = " + toml_quote(queue_path) + "\n";
  s += "max_size = " + toml_quote(format_size(max_size)) + "\n";
  s += "sync = " + toml_quote(to_string(sync)) + "\n";
  s += "commit_interval = " + toml_quote(format_duration(commit_interval)) + "\n";
  s += "replay_rate = " + toml_float(replay_rate) + "\n";
  for (const auto& c : classes) {
    s += "\n[[uplink.classes]]\n";
    s += "name = " + toml_quote(c.name) + "\n";
    s += "ttl = " + toml_quote(format_duration(c.ttl)) + "\n";
  }
  return s;
}

QueueOptions UplinkConfig::queue_options() const {
  QueueOptions o;
  o.dir = queue_path;
  o.max_size = max_size;
  o.max_message = max_message;
  o.sync = sync;
  o.commit_interval = commit_interval;
  o.classes = classes;
  return o;
}

}  // namespace uplink
