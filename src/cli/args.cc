#include "cli/args.h"

#include <charconv>

namespace uplink::cli {

namespace {

bool parse_positive(const std::string& s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out >= 1;
}

}  // namespace

Result<Json> parse_assignments(const std::vector<std::string>& items) {
  Json out = Json::object();
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error("expected KEY=VALUE, got '" + item + "'");
    }
    std::string key = item.substr(0, eq);
    if (out.contains(key)) return make_error("key '" + key + "' given twice");
    out[key] = item.substr(eq + 1);
  }
  return out;
}

Result<Json> parse_member(const std::string& spec) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3 || parts[0].empty()) {
    return make_error("invalid member '" + spec + "': expected LINK[:TIER[:WEIGHT]]");
  }
  Json m{{"link", parts[0]}};
  int n = 0;
  if (parts.size() >= 2) {
    if (!parse_positive(parts[1], n)) return make_error("invalid tier in member '" + spec + "': expected an integer >= 1");
    m["tier"] = n;
  }
  if (parts.size() == 3) {
    if (!parse_positive(parts[2], n)) {
      return make_error("invalid weight in member '" + spec + "': expected an integer >= 1");
    }
    m["weight"] = n;
  }
  return m;
}

Result<Json> parse_members(const std::vector<std::string>& specs) {
  Json arr = Json::array();
  for (const auto& s : specs) {
    auto m = parse_member(s);
    if (!m) return m.error();
    arr.push_back(std::move(*m));
  }
  return arr;
}

}  // namespace uplink::cli
