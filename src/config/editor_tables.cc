// Setting and removing keys and tables; validation of the edited text.
#include "config/editor_internal.h"
#include "config/loader.h"
#include "config/writer.h"

namespace uplink {
namespace edit_detail {

// The new text must be a valid configuration: that is what catches a removed
// link still used by a policy, a rule after the catch-all, a bad duration...
Result<std::string> validated(std::string text, const std::string& path) {
  try {
    (void)parse_config(text, path);
  } catch (const ConfigError& e) {
    return make_error("the change would make the configuration invalid, nothing was changed: " +
                      std::string(e.what()));
  }
  return text;
}

// Sets `key` of table `t` (already located), creating nothing above it.
Result<std::string> set_in_table(const Document& d, const toml::table& t, const std::vector<std::string>& rel_prefix,
                                 const Document::Header* anchor, const std::string& key, const std::string& value_text) {
  Splicer s(d);
  if (const toml::node* n = t.get(key)) {
    // In place: the rest of the line (a trailing comment) stays.
    s.replace(d.offset(n->source().begin), d.offset(n->source().end), d.nl(value_text));
    return s.apply();
  }
  if (t.is_inline()) {
    return make_error("cannot add '" + key + "': the table is written inline ({ ... }); edit the file by hand");
  }
  if (!anchor) {
    return make_error("cannot add '" + key + "': the table is not written as a [section]; edit the file by hand");
  }
  int last = d.last_entry_line(*anchor->table);
  std::string indent = last != anchor->line ? d.indent_of(last) : "";
  std::string full_key;
  for (const auto& p : rel_prefix) full_key += toml_key(p) + ".";
  full_key += toml_key(key);
  s.insert_lines_before(last + 1, indent + full_key + " = " + value_text + "\n");
  return s.apply();
}

Result<std::string> create_table_with(const Document& d, const std::vector<std::string>& table_path,
                                      const std::string& key, const std::string& value_text) {
  Splicer s(d);
  std::string hdr;
  for (const auto& p : table_path) hdr += (hdr.empty() ? "" : ".") + toml_key(p);
  std::string block = "[" + hdr + "]\n" + toml_key(key) + " = " + value_text + "\n";
  std::vector<std::string> parent(table_path.begin(), table_path.end() - 1);
  if (parent.empty()) {
    // A new top-level section ([daemon]) goes first, above the first section's comments.
    if (d.headers().empty()) {
      insert_block_after(d, s, d.line_count(), block);
    } else {
      insert_block_before(d, s, d.attached_start(d.headers().front().line), block);
    }
    return s.apply();
  }
  Located p = locate(d, parent);
  if (!p.table || !p.anchor || !p.rel.empty()) {
    return make_error("cannot create [" + hdr + "]: its parent is not written as a [section]; edit the file by hand");
  }
  // After the parent's whole family: [links.wan1.quality] goes below [links.wan1.probe].
  insert_block_after(d, s, std::max(d.last_entry_line(*p.table), last_line_of(family_segments(d, parent))), block);
  return s.apply();
}

// set_value without the final validation (multi-key edits validate once, at the end).
Result<std::string> set_value_impl(const Document& d, std::vector<std::string> table_path, std::string key,
                                   const std::string& value) {
  // "probe.interval" -> table {..., "probe"}, key "interval".
  auto parts = split_dots(key);
  key = parts.back();
  table_path.insert(table_path.end(), parts.begin(), parts.end() - 1);
  std::string where = dotted(table_path);
  auto sec = section_of(table_path);
  if (!sec) return make_error("cannot set values in '" + where + "'");
  if (auto r = require_named(d, table_path); !r) return r.error();
  auto spec = lookup_key(*sec, where, key);
  if (!spec) return spec.error();
  Located l = locate(d, table_path);
  std::string indent;
  if (l.table) {
    if (const toml::node* n = l.table->get(key)) indent = d.indent_of(static_cast<int>(n->source().begin.line));
  }
  auto text = toml_value((*spec)->kind, where + "." + key, value, indent);
  if (!text) return text.error();
  if (!l.table) return create_table_with(d, table_path, key, *text);
  return set_in_table(d, *l.table, l.rel, l.anchor, key, *text);
}

Result<std::string> unset_in_table(const Document& d, const toml::table& t, const std::string& where,
                                   const std::string& key) {
  const toml::node* n = t.get(key);
  if (!n) return make_error(where + "." + key + " is not set");
  if (t.is_inline()) return make_error("cannot remove '" + key + "': " + where + " is written inline; edit the file by hand");
  int first = 0, last = static_cast<int>(n->source().end.line);
  for (auto&& [k, v] : t) {
    if (k.str() == key) first = static_cast<int>(k.source().begin.line);
  }
  Splicer s(d);
  s.delete_lines(first, last);
  return s.apply();
}

namespace {

// The edits below return the text without the final validation, so that a
// multi-key edit (set_values) validates once, at the end.

Result<std::string> remove_table_raw(const Document& d, const std::vector<std::string>& table_path) {
  if (auto r = require_named(d, table_path); !r) return r.error();
  if (!find_table(d, table_path)) return make_error("[" + dotted(table_path) + "] does not exist");
  Located l = locate(d, table_path);
  if (!l.anchor || !l.rel.empty()) {
    return make_error("[" + dotted(table_path) + "] is not written as a [section]; edit the file by hand");
  }
  Splicer s(d);
  delete_segments(d, s, family_segments(d, table_path));
  return s.apply();
}

Result<std::string> unset_value_raw(const Document& d, const std::vector<std::string>& table_path,
                                    const std::string& key) {
  auto parts = split_dots(key);
  std::vector<std::string> tp = table_path;
  tp.insert(tp.end(), parts.begin(), parts.end() - 1);
  if (auto r = require_named(d, tp); !r) return r.error();
  std::string where = dotted(tp);
  auto sec = section_of(tp);
  if (!sec) return make_error("cannot change values in '" + where + "'");
  auto spec = lookup_key(*sec, where, parts.back());
  if (!spec) return spec.error();
  if ((*spec)->kind == ValueKind::table) {
    tp.push_back(parts.back());
    return remove_table_raw(d, tp);
  }
  Located l = locate(d, tp);
  if (!l.table) return make_error(where + "." + parts.back() + " is not set");
  return unset_in_table(d, *l.table, where, parts.back());
}

}  // namespace

// Applies edits one after another (each on the re-parsed result of the
// previous one) and validates only the final text.
Result<std::string> apply_all(std::string_view text, const std::string& path, const std::vector<RawEdit>& edits) {
  std::string current(text);
  for (const auto& edit : edits) {
    auto d = Document::parse(current, path);
    if (!d) return d.error();
    auto next = edit(*d);
    if (!next) return next;
    current = std::move(*next);
  }
  return validated(std::move(current), path);
}

}  // namespace edit_detail

using namespace edit_detail;

Result<std::string> set_value(std::string_view text, const std::string& path, const std::vector<std::string>& table_path,
                              const std::string& key, const std::string& value) {
  return apply_all(text, path, {[&](const Document& d) { return set_value_impl(d, table_path, key, value); }});
}

Result<std::string> unset_value(std::string_view text, const std::string& path,
                                const std::vector<std::string>& table_path, const std::string& key) {
  return apply_all(text, path, {[&](const Document& d) { return unset_value_raw(d, table_path, key); }});
}

Result<std::string> set_values(std::string_view text, const std::string& path,
                               const std::vector<std::string>& table_path, const std::vector<KeyValue>& set,
                               const std::vector<std::string>& unset) {
  if (set.empty() && unset.empty()) return make_error("nothing to change");
  std::vector<RawEdit> edits;
  for (const auto& kv : set) {
    edits.push_back([&](const Document& d) { return set_value_impl(d, table_path, kv.key, kv.value); });
  }
  for (const auto& key : unset) edits.push_back([&](const Document& d) { return unset_value_raw(d, table_path, key); });
  return apply_all(text, path, edits);
}

Result<std::string> set_link_enabled(std::string_view text, const std::string& path, const std::string& name,
                                     bool enabled) {
  return set_value(text, path, {"links", name}, "enabled", enabled ? "true" : "false");
}

Result<std::string> remove_table(std::string_view text, const std::string& path,
                                 const std::vector<std::string>& table_path) {
  return apply_all(text, path, {[&](const Document& d) { return remove_table_raw(d, table_path); }});
}

Result<std::string> remove_link(std::string_view text, const std::string& path, const std::string& name) {
  return remove_table(text, path, {"links", name});
}

Result<std::string> remove_policy(std::string_view text, const std::string& path, const std::string& name) {
  return remove_table(text, path, {"policies", name});
}

}  // namespace uplink
