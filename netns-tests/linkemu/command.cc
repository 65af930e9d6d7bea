#include "linkemu/command.h"

#include <charconv>
#include <cmath>
#include <sstream>

#include "common/units.h"

namespace uplink::linkemu {

namespace {

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

Result<double> parse_number(const std::string& key, const std::string& v, double lo, double hi) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || p != v.data() + v.size() || !std::isfinite(d) || d < lo || d > hi) {
    return make_error(key + "=" + v + ": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return d;
}

Result<uint64_t> parse_uint(const std::string& key, const std::string& v) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return make_error(key + "=" + v + ": expected a whole number");
  return n;
}

// Bytes: a bare number or a size with unit ("64kB", "1MiB").
Result<uint64_t> parse_bytes(const std::string& key, const std::string& v) {
  auto n = parse_uint(key, v);
  if (n.ok()) return n;
  auto s = parse_size(v);
  if (!s.ok()) return make_error(key + "=" + v + ": expected bytes, e.g. 30000 or 64kB");
  return *s;
}

Result<bool> parse_flag(const std::string& key, const std::string& v) {
  if (v == "1" || v == "on" || v == "true") return true;
  if (v == "0" || v == "off" || v == "false") return false;
  return make_error(key + "=" + v + ": expected 0 or 1");
}

Result<Duration> parse_dur(const std::string& key, const std::string& v) {
  auto d = parse_duration(v);
  if (!d.ok()) return make_error(key + ": " + d.error().message);
  if (*d < Duration::zero()) return make_error(key + "=" + v + ": must not be negative");
  return *d;
}

}  // namespace

Result<Command> parse_command(std::string_view line) {
  auto words = split_words(line);
  if (words.empty()) return make_error("empty command (expected set, clear, flush or show)");
  Command c;
  const std::string& verb = words[0];
  if (verb == "set") c.op = Command::Op::set;
  else if (verb == "clear") c.op = Command::Op::clear;
  else if (verb == "flush") c.op = Command::Op::flush;
  else if (verb == "show") c.op = Command::Op::show;
  else return make_error("unknown command '" + verb + "' (expected set, clear, flush or show)");

  for (size_t i = 1; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    if (eq == std::string::npos || eq == 0) return make_error("expected key=value, got '" + words[i] + "'");
    std::string key = words[i].substr(0, eq), value = words[i].substr(eq + 1);
    if (key == "dir") {
      if (value == "a2b") c.a2b = true, c.b2a = false;
      else if (value == "b2a") c.a2b = false, c.b2a = true;
      else if (value == "both") c.a2b = c.b2a = true;
      else return make_error("dir=" + value + ": expected a2b, b2a or both");
      continue;
    }
    if (c.op != Command::Op::set) return make_error("'" + verb + "' takes only dir=, got '" + words[i] + "'");
    c.settings.emplace_back(std::move(key), std::move(value));
  }
  if (c.op == Command::Op::set && c.settings.empty()) return make_error("set: nothing to set");
  // Validate now, so a bad request fails before anything changes.
  if (c.op == Command::Op::set) {
    auto check = apply_settings(LinkParams{}, c.settings);
    if (!check.ok()) return check.error();
  }
  return c;
}

Result<LinkParams> apply_settings(LinkParams p, const std::vector<std::pair<std::string, std::string>>& kv) {
  for (const auto& [k, v] : kv) {
    if (k == "delay" || k == "jitter") {
      auto d = parse_dur(k, v);
      if (!d.ok()) return d.error();
      (k == "delay" ? p.delay : p.jitter) = *d;
    } else if (k == "loss") {
      auto d = parse_number(k, v, 0, 100);
      if (!d.ok()) return d.error();
      p.loss_pct = *d;
    } else if (k == "burst") {
      auto d = parse_number(k, v, 0, 1e6);
      if (!d.ok()) return d.error();
      p.burst = *d;
    } else if (k == "rate") {
      auto n = parse_uint(k, v);
      if (!n.ok()) return make_error(n.error().message + " (kbit/s, 0 = unlimited)");
      p.rate_kbit = *n;
    } else if (k == "queue" || k == "rate_burst") {
      auto n = parse_bytes(k, v);
      if (!n.ok()) return n.error();
      (k == "queue" ? p.queue_bytes : p.rate_burst_bytes) = *n;
    } else if (k == "reorder" || k == "blackhole") {
      auto f = parse_flag(k, v);
      if (!f.ok()) return f.error();
      (k == "reorder" ? p.reorder : p.blackhole) = *f;
    } else {
      return make_error("unknown setting '" + k +
                        "' (delay, jitter, reorder, loss, burst, rate, queue, rate_burst, blackhole)");
    }
  }
  return p;
}

std::string format_params(const LinkParams& p) {
  std::ostringstream o;
  o << "delay=" << format_duration(p.delay) << " jitter=" << format_duration(p.jitter)
    << " reorder=" << (p.reorder ? 1 : 0) << " loss=" << p.loss_pct << " burst=" << p.burst
    << " rate=" << p.rate_kbit << " queue=" << p.queue_bytes << " rate_burst=" << p.rate_burst_bytes
    << " blackhole=" << (p.blackhole ? 1 : 0);
  return o.str();
}

}  // namespace uplink::linkemu
