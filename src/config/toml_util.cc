#include "config/toml_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/units.h"

namespace uplink {

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

Result<std::string> read_string(const toml::node& n) {
  if (!n.is_string()) return make_error("expected a string, got " + type_name(n));
  const std::string& s = n.as_string()->get();
  if (s.find('\0') != std::string::npos) return make_error("must not contain a NUL character");
  return s;
}

Result<bool> read_bool(const toml::node& n) {
  if (!n.is_boolean()) return make_error("expected a boolean (true or false), got " + type_name(n));
  return n.as_boolean()->get();
}

Result<int64_t> read_int(const toml::node& n, int64_t lo, int64_t hi) {
  if (!n.is_integer()) return make_error("expected an integer, got " + type_name(n));
  int64_t v = n.as_integer()->get();
  if (v < lo) return make_error("must be at least " + std::to_string(lo) + ", got " + std::to_string(v));
  if (v > hi) return make_error("must be at most " + std::to_string(hi) + ", got " + std::to_string(v));
  return v;
}

Result<double> read_number(const toml::node& n) {
  if (n.is_integer()) return static_cast<double>(n.as_integer()->get());
  if (!n.is_floating_point()) return make_error("expected a number, got " + type_name(n));
  double v = n.as_floating_point()->get();
  if (!std::isfinite(v)) return make_error("must be a finite number");
  return v;
}

Result<Duration> read_duration(const toml::node& n, bool allow_zero) {
  if (!n.is_string()) return make_error("expected a duration string such as \"100ms\", got " + type_name(n));
  auto d = parse_duration(n.as_string()->get());
  if (!d) return d.error();
  if (!allow_zero && *d <= Duration::zero()) return make_error("must be greater than 0");
  return *d;
}

Result<uint64_t> read_size(const toml::node& n) {
  if (!n.is_string()) return make_error("expected a size string such as \"256MiB\", got " + type_name(n));
  return parse_size(n.as_string()->get());
}

bool earlier(const toml::source_position& a, const toml::source_position& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

std::vector<Entry> in_file_order(const toml::table& t) {
  std::vector<Entry> out;
  for (auto&& [k, v] : t) out.push_back({&k, &v});
  std::stable_sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    const auto& pa = a.node->is_table() ? a.node->source().begin : a.key->source().begin;
    const auto& pb = b.node->is_table() ? b.node->source().begin : b.key->source().begin;
    return earlier(pa, pb);
  });
  return out;
}

const toml::key* key_of(const toml::table& t, std::string_view name) {
  for (auto&& [k, v] : t) {
    if (k.str() == name) return &k;
  }
  return nullptr;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool bare_key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

// A dotted key at the start of `s` ("probe.interval", "\"a b\".c"), up to the '=' or '['/']'.
// Returns the components, or nothing when `s` does not start with a key.
std::vector<std::string> leading_key(std::string_view s, char stop) {
  std::vector<std::string> out;
  size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (true) {
    ws();
    if (i >= s.size()) return {};
    std::string part;
    if (s[i] == '"' || s[i] == '\'') {
      char q = s[i++];
      while (i < s.size() && s[i] != q) {
        if (q == '"' && s[i] == '\\' && i + 1 < s.size()) ++i;
        part += s[i++];
      }
      if (i >= s.size()) return {};
      ++i;
    } else {
      while (i < s.size() && bare_key_char(s[i])) part += s[i++];
      if (part.empty()) return {};
    }
    out.push_back(part);
    ws();
    if (i < s.size() && s[i] == '.') {
      ++i;
      continue;
    }
    if (i < s.size() && s[i] == stop) return out;
    return {};
  }
}

std::string dotted(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    out += out.empty() ? "" : ".";
    bool bare = !p.empty() && std::all_of(p.begin(), p.end(), bare_key_char);
    out += bare ? p : "\"" + p + "\"";
  }
  return out;
}

}  // namespace

std::string describe_syntax_error(std::string_view text, const toml::parse_error& e) {
  const auto line_no = static_cast<size_t>(e.source().begin.line);
  // Split into lines (1-based) up to the failing one.
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (lines.size() < line_no && start <= text.size()) {
    size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  std::string raw(e.description());
  if (line_no == 0 || lines.size() < line_no) return "syntax error: " + raw;
  std::string_view failing = trim(lines[line_no - 1]);
  if (!failing.empty() && failing.front() == '[') return "syntax error in a table header: " + raw;
  // The [table] the failing line belongs to: the last header above it.
  std::vector<std::string> table;
  bool array_table = false, found = false;
  for (size_t i = line_no - 1; i-- > 0;) {
    std::string_view l = trim(lines[i]);
    if (l.empty() || l.front() != '[') continue;
    bool dbl = l.size() > 1 && l[1] == '[';
    auto parts = leading_key(l.substr(dbl ? 2 : 1), ']');
    if (parts.empty()) continue;  // an array value that starts a line, not a header
    table = std::move(parts);
    array_table = dbl;
    found = true;
    break;
  }
  std::string where = !found ? "at the top level (before any [table])"
                             : "in " + std::string(array_table ? "[[" : "[") + dotted(table) +
                                   (array_table ? "]]" : "]");
  auto key = leading_key(failing, '=');
  if (key.empty()) return "syntax error " + where + ": " + raw;
  std::vector<std::string> full = table;
  full.insert(full.end(), key.begin(), key.end());
  return dotted(full) + ": syntax error " + where + ": " + raw;
}

}  // namespace uplink
