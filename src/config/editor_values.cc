// CLI strings -> TOML value text, typed by the schema.
#include <algorithm>
#include <cctype>

#include "config/editor_internal.h"
#include "config/writer.h"

namespace uplink {
namespace edit_detail {

// A TOML literal typed by toml++ itself, so "0x200", "1_000" and "-3" are all accepted as written.
std::optional<toml::node_type> literal_type(const std::string& v) {
  try {
    auto t = toml::parse("v = " + v);
    if (t.size() == 1 && t.get("v")) return t.get("v")->type();
  } catch (const toml::parse_error&) {
  }
  return std::nullopt;
}

std::string members_text(const std::vector<PolicyMember>& members, const std::string& indent) {
  std::string out = "[\n";
  for (const auto& m : members) {
    out += indent + "  { link = " + toml_quote(m.link) + ", tier = " + std::to_string(m.tier) +
           ", weight = " + std::to_string(m.weight) + " },\n";
  }
  return out + indent + "]";
}

Result<std::vector<PolicyMember>> parse_members(const std::string& value, const std::string& where) {
  std::vector<PolicyMember> out;
  for (const auto& item : split_list(value)) {
    std::vector<std::string> parts;  // LINK[:TIER[:WEIGHT]]
    size_t start = 0;
    while (true) {
      size_t c = item.find(':', start);
      parts.push_back(item.substr(start, c == std::string::npos ? std::string::npos : c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    PolicyMember m;
    m.link = parts[0];
    auto number = [&](const std::string& s, int& out_v) {
      if (s.empty() || s.size() > 6 || !all_digits(s)) return false;
      out_v = std::stoi(s);
      return true;
    };
    if (parts.size() > 3 || m.link.empty() || (parts.size() > 1 && !number(parts[1], m.tier)) ||
        (parts.size() > 2 && !number(parts[2], m.weight))) {
      return make_error(where + ": invalid member '" + item + "' (expected LINK[:TIER[:WEIGHT]], e.g. wan1:1:3)");
    }
    out.push_back(m);
  }
  if (out.empty()) return make_error(where + ": a policy needs at least one member");
  return out;
}

// CLI string -> TOML value text, by the schema's kind for this key.
Result<std::string> toml_value(ValueKind kind, const std::string& where, const std::string& value,
                               const std::string& indent) {
  switch (kind) {
    case ValueKind::boolean: {
      std::string v = value;
      std::transform(v.begin(), v.end(), v.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
      if (v == "true" || v == "yes" || v == "on" || v == "1") return std::string("true");
      if (v == "false" || v == "no" || v == "off" || v == "0") return std::string("false");
      return make_error(where + ": expected true or false, got '" + value + "'");
    }
    case ValueKind::integer:
      if (literal_type(value) != toml::node_type::integer) {
        return make_error(where + ": expected an integer, got '" + value + "'");
      }
      return value;
    case ValueKind::number: {
      auto t = literal_type(value);
      if (t != toml::node_type::integer && t != toml::node_type::floating_point) {
        return make_error(where + ": expected a number, got '" + value + "'");
      }
      return value;
    }
    case ValueKind::string:
    case ValueKind::duration:
    case ValueKind::duration_or_auto:
      return toml_quote(value);
    case ValueKind::string_list:
      return toml_string_array(split_list(value));
    case ValueKind::port_list: {
      auto items = split_list(value);
      auto one = [](const std::string& s) {
        return all_digits(s) ? s : toml_quote(s);
      };
      if (items.size() == 1) return one(items[0]);
      std::string out = "[";
      for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + one(items[i]);
      return out + "]";
    }
    case ValueKind::members: {
      auto m = parse_members(value, where);
      if (!m) return m.error();
      return members_text(*m, indent);
    }
    case ValueKind::table:
      return make_error(where + " is a table: set one of its keys, e.g. " + where.substr(where.rfind('.') + 1) +
                        ".KEY=VALUE");
    case ValueKind::table_array:
      return make_error(where + ": use the rule verbs to edit rules");
  }
  return make_error(where + ": cannot be set from the command line");
}

// Which schema section a table path names.
std::optional<Section> section_of(const std::vector<std::string>& p) {
  if (p.size() == 1 && p[0] == "daemon") return Section::daemon;
  if (p.size() == 2 && p[0] == "links") return Section::link;
  if (p.size() == 3 && p[0] == "links" && p[2] == "probe") return Section::probe;
  if (p.size() == 3 && p[0] == "links" && p[2] == "quality") return Section::quality;
  if (p.size() == 2 && p[0] == "policies") return Section::policy;
  return std::nullopt;
}

Result<const KeySpec*> lookup_key(Section s, const std::string& where, const std::string& key) {
  const KeySpec* k = find_key(s, key);
  if (k) return k;
  std::string hint = closest_key(s, key);
  return make_error("unknown key '" + key + "' in " + where +
                    (hint.empty() ? " (known keys: " + known_keys(s) + ")" : " (did you mean '" + hint + "'?)"));
}

// Key/value lines for a new section, in the order given, typed by the schema.
Result<std::string> section_lines(Section sec, const std::string& where, const std::vector<KeyValue>& kvs) {
  std::string out;
  for (const auto& kv : kvs) {
    auto spec = lookup_key(sec, where, kv.key);
    if (!spec) return spec.error();
    auto v = toml_value((*spec)->kind, where + "." + kv.key, kv.value, "");
    if (!v) return v.error();
    out += toml_key(kv.key) + " = " + *v + "\n";
  }
  return out;
}

}  // namespace edit_detail

Result<KeyValue> parse_key_value(std::string_view arg) {
  auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return make_error("expected KEY=VALUE, got '" + std::string(arg) + "'");
  }
  return KeyValue{edit_detail::trim(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
}

}  // namespace uplink
