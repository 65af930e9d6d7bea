// Typed access to TOML values and the value grammars of the core keys.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "config/loader_impl.h"

namespace uplink {

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  if (!std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool valid_interface(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c > ' ' && c != '/' && c != ':' && static_cast<unsigned char>(c) < 0x7f;
  });
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<uint16_t> parse_port_number(std::string_view s) {
  if (!all_digits(s) || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

Result<ProbeTarget> parse_target(std::string_view text) {
  ProbeTarget t;
  t.original = std::string(text);
  std::string_view addr = text, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("invalid probe target '" + t.original + "': expected \"[IPv6]:PORT\"");
    }
    addr = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    addr = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto a = IpAddress::parse(addr);
  if (!a) return make_error("invalid probe target '" + t.original + "': not an IP address (hostnames are not resolved)");
  if (text.front() == '[' && !a->is_v6()) {
    return make_error("invalid probe target '" + t.original + "': brackets are for IPv6 addresses only");
  }
  t.address = *a;
  if (addr.size() != text.size()) {
    auto p = parse_port_number(port);
    if (!p) return make_error("invalid probe target '" + t.original + "': port must be 1..65535");
    t.port = *p;
  }
  return t;
}

Result<std::string> check_modem_selector(const std::string& s) {
  auto bad = [&] {
    return make_error("invalid modem selector '" + s +
                      "' (expected \"any\", \"imei:NUMBER\", \"index:N\", \"port:NAME\" or \"none\")");
  };
  if (s == "any" || s == "none") return s;
  auto colon = s.find(':');
  if (colon == std::string::npos) return bad();
  std::string_view kind(s.data(), colon), arg(s.data() + colon + 1, s.size() - colon - 1);
  if (kind == "imei" && all_digits(arg) && arg.size() >= 14 && arg.size() <= 16) return s;
  if (kind == "index" && all_digits(arg) && arg.size() <= 4) return s;
  if (kind == "port" && valid_interface(arg)) return s;
  return bad();
}

// ---- Loader: typed access ----------------------------------------------------------

const toml::table& Loader::want_table(const toml::node& n, const std::string& where) {
  if (!n.is_table()) fail(n, where, "expected a table, got " + type_name(n));
  return *n.as_table();
}

// The shared readers (toml_util.h) give the value or the message; an error ends the step.
template <class T>
T Loader::value_or_fail(Result<T> r, const toml::node& n, const std::string& where) {
  if (!r) fail(n, where, r.error().message);
  return std::move(*r);
}

std::string Loader::get_string(const toml::node& n, const std::string& where) {
  return value_or_fail(read_string(n), n, where);
}

bool Loader::get_bool(const toml::node& n, const std::string& where) { return value_or_fail(read_bool(n), n, where); }

int64_t Loader::get_int(const toml::node& n, const std::string& where, int64_t lo, int64_t hi) {
  return value_or_fail(read_int(n, lo, hi), n, where);
}

double Loader::get_number(const toml::node& n, const std::string& where) {
  return value_or_fail(read_number(n), n, where);
}

Duration Loader::get_duration(const toml::node& n, const std::string& where, bool allow_zero) {
  return value_or_fail(read_duration(n, allow_zero), n, where);
}

const toml::array& Loader::want_array(const toml::node& n, const std::string& where, bool non_empty) {
  if (!n.is_array()) fail(n, where, "expected an array, got " + type_name(n));
  const auto& a = *n.as_array();
  if (non_empty && a.empty()) fail(n, where, "must not be empty");
  return a;
}

std::string Loader::get_path(const toml::node& n, const std::string& where) {
  std::string s = get_string(n, where);
  if (s.empty() || s.front() != '/') fail(n, where, "must be an absolute path, got '" + s + "'");
  return s;
}

std::string Loader::get_interface(const toml::node& n, const std::string& where) {
  std::string s = get_string(n, where);
  if (!valid_interface(s)) {
    fail(n, where, "invalid interface name '" + s + "' (1..15 characters, no '/', ':' or spaces)");
  }
  return s;
}

IpPrefix Loader::get_prefix(const toml::node& n, const std::string& where) {
  auto p = IpPrefix::parse(get_string(n, where));
  if (!p) fail(n, where, p.error().message);
  return *p;
}

IpAddress Loader::get_address(const toml::node& n, const std::string& where) {
  auto a = IpAddress::parse(get_string(n, where));
  if (!a) fail(n, where, a.error().message);
  return *a;
}

std::vector<PortRange> Loader::get_ports(const toml::node& n, const std::string& where) {
  std::vector<PortRange> out;
  if (n.is_array()) {
    const auto& a = want_array(n, where, true);
    bool ok = true;
    for (size_t i = 0; i < a.size(); ++i) {
      ok &= guard([&] { out.push_back(get_port(*a.get(i), where + "[" + std::to_string(i) + "]")); });
    }
    if (!ok) throw Bail{};
  } else {
    out.push_back(get_port(n, where));
  }
  return out;
}

PortRange Loader::get_port(const toml::node& n, const std::string& where) {
  if (n.is_integer()) {
    auto v = static_cast<uint16_t>(get_int(n, where, 1, 65535));
    return {v, v};
  }
  if (!n.is_string()) {
    fail(n, where, "expected a port (80), a range (\"8000-8100\") or an array of those, got " + type_name(n));
  }
  std::string s = n.as_string()->get();
  auto dash = s.find('-');
  auto first = parse_port_number(std::string_view(s).substr(0, dash));
  auto last = dash == std::string::npos ? first : parse_port_number(std::string_view(s).substr(dash + 1));
  if (!first || !last) fail(n, where, "invalid port '" + s + "' (1..65535, or a range like \"8000-8100\")");
  if (*first > *last) fail(n, where, "invalid port range '" + s + "': first port is above the last");
  return {*first, *last};
}

}  // namespace uplink
