#include "plugin/plugin_config.h"

#include <sodium.h>

#include <charconv>
#include <sstream>

#include "common/ip.h"
#include "common/units.h"
#include "config/section.h"
#include "config/toml.h"
#include "config/toml_text.h"
#include "plugin/encoded_bytes.h"

namespace uplink::plugin {

Result<InputSpec> parse_input(std::string_view text) {
  InputSpec in;
  in.original = std::string(text);
  if (text.rfind("udp://", 0) == 0) {
    std::string_view rest = text.substr(6);
    std::string host;
    std::string_view port;
    if (!rest.empty() && rest.front() == '[') {
      auto close = rest.find(']');
      if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
        return make_error("expected udp://[IPV6]:PORT");
      host = std::string(rest.substr(1, close - 1));
      port = rest.substr(close + 2);
    } else {
      auto colon = rest.rfind(':');
      if (colon == std::string_view::npos) return make_error("expected udp://HOST:PORT");
      host = std::string(rest.substr(0, colon));
      port = rest.substr(colon + 1);
    }
    if (!IpAddress::parse(host)) return make_error("'" + host + "' is not a numeric IPv4 or IPv6 address");
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || port.empty() || p == 0 || p > 65535)
      return make_error("bad port '" + std::string(port) + "'");
    in.kind = InputSpec::Kind::udp;
    in.host = host;
    in.port = uint16_t(p);
    return in;
  }
  if (text.rfind("unix:", 0) == 0) {
    std::string_view path = text.substr(5);
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    if (path.empty() || path.front() != '/') return make_error("expected unix:///ABSOLUTE/PATH");
    if (path.size() >= 108) return make_error("unix socket path longer than 107 bytes");
    in.kind = InputSpec::Kind::unix_stream;
    in.path = std::string(path);
    return in;
  }
  return make_error("expected udp://HOST:PORT or unix:///PATH");
}

namespace {

// A 32-byte ed25519 public key written as base64, hex, or 32 raw bytes.
std::optional<std::string> decode_key(const std::string& text) {
  if (sodium_init() < 0) return std::nullopt;
  if (text.size() == crypto_sign_PUBLICKEYBYTES) return text;
  return decode_hex_or_base64(text, crypto_sign_PUBLICKEYBYTES);
}

std::shared_ptr<const SectionValue> parse_plugins(const toml::node& node, SectionContext& ctx) {
  const toml::table* root = ctx.want_table(node, "plugins");
  if (!root) return nullptr;
  auto section = std::make_shared<PluginsSection>();
  for (const auto& [key, value] : *root) {
    std::string name(key.str());
    std::string path = "plugins." + name;
    const toml::table* t = ctx.want_table(value, path);
    if (!t) continue;
    bool ok_name = !name.empty() && name.size() <= 64;
    for (char c : name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) ok_name = false;
    if (!ok_name) ctx.error(value, path, "a plugin name is 1..64 letters, digits, '-' or '_'");
    ctx.check_keys(*t, path,
                   {"path", "class", "inputs", "memory_max", "cpu_max", "heartbeat_timeout", "restart_backoff_max",
                    "model_dir", "model_public_key", "model_probation", "user", "config"});
    PluginConfig p;
    p.name = name;
    if (auto v = ctx.get_string(*t, "path", path, /*required=*/true)) {
      if (v->empty() || v->front() != '/')
        ctx.error_at_key(*t, "path", SectionContext::join(path, "path"),
                         "must be an absolute path to the plugin's .so, got '" + *v + "'");
      p.path = *v;
    }
    if (auto v = ctx.get_string(*t, "class", path)) p.msg_class = *v;
    if (auto v = ctx.get_string_array(*t, "inputs", path)) {
      const toml::array* arr = t->get("inputs")->as_array();
      for (size_t i = 0; i < v->size(); ++i) {
        auto in = parse_input((*v)[i]);
        if (!in) ctx.error(*arr->get(i), SectionContext::join(path, "inputs"), in.error().message);
        else p.inputs.push_back(*in);
      }
    }
    if (auto v = ctx.get_size(*t, "memory_max", path)) {
      if (*v < (4u << 20)) ctx.error_at_key(*t, "memory_max", SectionContext::join(path, "memory_max"),
                                            "must be at least 4MiB (the host itself needs a few)");
      p.memory_max = *v;
    }
    if (auto v = ctx.get_number(*t, "cpu_max", path)) {
      if (*v <= 0 || *v > 100.0 * 64)
        ctx.error_at_key(*t, "cpu_max", SectionContext::join(path, "cpu_max"),
                         "must be a percentage of one core above 0 (100 = one core)");
      p.cpu_max = *v;
    }
    if (auto v = ctx.get_duration(*t, "heartbeat_timeout", path)) {
      if (*v < 100ms) ctx.error_at_key(*t, "heartbeat_timeout", SectionContext::join(path, "heartbeat_timeout"),
                                       "must be at least 100ms");
      p.heartbeat_timeout = *v;
    }
    if (auto v = ctx.get_duration(*t, "restart_backoff_max", path)) {
      if (*v < 1s) ctx.error_at_key(*t, "restart_backoff_max", SectionContext::join(path, "restart_backoff_max"),
                                    "must be at least 1s");
      p.restart_backoff_max = *v;
    }
    if (auto v = ctx.get_string(*t, "model_dir", path)) {
      if (v->empty() || v->front() != '/')
        ctx.error_at_key(*t, "model_dir", SectionContext::join(path, "model_dir"), "must be an absolute path");
      p.model_dir = *v;
    }
    if (auto v = ctx.get_secret(*t, "model_public_key", path)) {
      auto key = decode_key(v->value);
      if (!key)
        ctx.error_at_key(*t, "model_public_key", SectionContext::join(path, "model_public_key"),
                         "not an ed25519 public key (32 bytes as base64, hex or raw)");
      else p.public_key = *key;
      p.model_public_key = *v;
      if (p.model_dir.empty() && !t->contains("model_dir"))
        ctx.error_at_key(*t, "model_public_key", SectionContext::join(path, "model_public_key"),
                         "needs model_dir (where models are installed)");
    }
    if (auto v = ctx.get_duration(*t, "model_probation", path, false, /*allow_zero=*/true)) p.model_probation = *v;
    if (auto v = ctx.get_string(*t, "user", path)) p.user = *v;
    if (t->contains("config")) {
      if (const toml::table* c = ctx.get_table(*t, "config", path)) {
        std::ostringstream js;
        js << toml::json_formatter(*c, toml::format_flags::none);
        p.config_json = js.str();
        toml::table wrap;
        toml::table inner;
        inner.insert("config", *c);
        wrap.insert(name, std::move(inner));
        toml::table top;
        top.insert("plugins", std::move(wrap));
        std::ostringstream ts;
        ts << toml::toml_formatter(top, toml::format_flags::none);
        p.config_toml = ts.str();
      }
    }
    section->plugins[name] = std::move(p);
  }
  return section;
}

}  // namespace

bool PluginsSection::equals(const SectionValue& other) const {
  auto* o = dynamic_cast<const PluginsSection*>(&other);
  return o && o->plugins == plugins;
}

std::string PluginsSection::to_toml(bool mask) const {
  std::string out;
  for (const auto& [name, p] : plugins) {
    out += "[plugins." + toml_key(name) + "]\n";
    out += "path = " + toml_quote(p.path) + "\n";
    if (!p.msg_class.empty()) out += "class = " + toml_quote(p.msg_class) + "\n";
    if (!p.inputs.empty()) {
      std::vector<std::string> in;
      for (auto& i : p.inputs) in.push_back(i.original);
      out += "inputs = " + toml_string_array(in) + "\n";
    }
    if (p.memory_max) out += "memory_max = " + toml_quote(format_size(*p.memory_max)) + "\n";
    if (p.cpu_max) out += "cpu_max = " + toml_float(*p.cpu_max) + "\n";
    out += "heartbeat_timeout = " + toml_quote(format_duration(p.heartbeat_timeout)) + "\n";
    out += "restart_backoff_max = " + toml_quote(format_duration(p.restart_backoff_max)) + "\n";
    if (!p.model_dir.empty()) out += "model_dir = " + toml_quote(p.model_dir) + "\n";
    if (p.model_public_key) out += "model_public_key = " + p.model_public_key->to_toml(mask) + "\n";
    out += "model_probation = " + toml_quote(format_duration(p.model_probation)) + "\n";
    if (!p.user.empty()) out += "user = " + toml_quote(p.user) + "\n";
    if (!p.config_toml.empty()) out += "\n" + p.config_toml + "\n";
    out += "\n";
  }
  return out;
}

void register_plugins_config(SectionRegistry& registry) {
  registry.add(SectionSpec{.name = "plugins", .parse = parse_plugins, .absent = {}, .validate = {}});
}

}  // namespace uplink::plugin
