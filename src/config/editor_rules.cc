// The [[rules]] edits.
#include <algorithm>

#include "config/editor_internal.h"
#include "config/writer.h"

namespace uplink {
namespace edit_detail {
namespace {

// [[rules]] elements with a header, in file order, with their names.
struct RuleRef {
  const toml::table* table;
  const Document::Header* header;
  std::string name;
  size_t index;
};

Result<std::vector<RuleRef>> rule_refs(const Document& d) {
  std::vector<RuleRef> out;
  const toml::node* rules = d.root().get("rules");
  if (!rules) return out;
  if (!rules->is_array()) return make_error("'rules' is not an array of [[rules]] tables; fix the file first");
  const auto& arr = *rules->as_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    const toml::node* e = arr.get(i);
    const toml::table* t = e->as_table();
    const Document::Header* h = t ? d.header_of(t) : nullptr;
    if (!h) return make_error("rules are written as an inline array; edit the file by hand");
    const toml::node* name = t->get("name");
    out.push_back({t, h, name && name->is_string() ? name->as_string()->get() : std::string(), i});
  }
  return out;
}

Result<RuleRef> find_rule(const Document& d, const std::string& name) {
  auto refs = rule_refs(d);
  if (!refs) return refs.error();
  for (const auto& r : *refs) {
    if (r.name == name) return r;
  }
  return make_error("rule '" + name + "' does not exist");
}

// Same test as RuleConfig::is_catch_all, on the TOML table.
bool is_catch_all(const toml::table& t) {
  for (auto&& [k, v] : t) {
    if (k.str() != "name" && k.str() != "policy" && k.str() != "sticky") {
      if (k.str() == "local" && v.is_boolean() && !v.as_boolean()->get()) continue;
      return false;
    }
  }
  return true;
}

Result<std::string> set_rule_value_raw(const Document& d, const std::string& rule_name, const std::string& key,
                                       const std::string& value) {
  auto r = find_rule(d, rule_name);
  if (!r) return r.error();
  std::string where = "rules." + rule_name;
  auto spec = lookup_key(Section::rule, where, key);
  if (!spec) return spec.error();
  auto v = toml_value((*spec)->kind, where + "." + key, value, "");
  if (!v) return v.error();
  return set_in_table(d, *r->table, {}, r->header, key, *v);
}

Result<std::string> unset_rule_value_raw(const Document& d, const std::string& rule_name, const std::string& key) {
  auto r = find_rule(d, rule_name);
  if (!r) return r.error();
  if (auto spec = lookup_key(Section::rule, "rules." + rule_name, key); !spec) return spec.error();
  return unset_in_table(d, *r->table, "rules." + rule_name, key);
}

}  // namespace
}  // namespace edit_detail

using namespace edit_detail;

Result<std::string> add_rule(std::string_view text, const std::string& path, const RuleSpec& spec,
                             const std::optional<std::string>& before_rule) {
  auto d = Document::parse(text, path);
  if (!d) return d.error();
  auto refs = rule_refs(*d);
  if (!refs) return refs.error();
  for (const auto& r : *refs) {
    if (r.name == spec.name) return make_error("rule '" + spec.name + "' already exists");
  }
  std::vector<KeyValue> kvs{{"name", spec.name}};
  kvs.insert(kvs.end(), spec.settings.begin(), spec.settings.end());
  auto lines = section_lines(Section::rule, "rules." + spec.name, kvs);
  if (!lines) return lines.error();
  std::string block = "[[rules]]\n" + *lines;
  Splicer s(*d);
  const RuleRef* before = nullptr;
  if (before_rule) {
    auto it = std::find_if(refs->begin(), refs->end(), [&](const RuleRef& r) { return r.name == *before_rule; });
    if (it == refs->end()) return make_error("rule '" + *before_rule + "' does not exist");
    before = &*it;
  } else {
    auto it = std::find_if(refs->begin(), refs->end(), [](const RuleRef& r) { return is_catch_all(*r.table); });
    if (it != refs->end()) before = &*it;
  }
  if (before) {
    insert_block_before(*d, s, d->attached_start(before->header->line), block);
  } else if (!refs->empty()) {
    insert_block_after(*d, s, d->segment(*refs->back().header).second, block);
  } else {
    insert_block_after(*d, s, d->line_count(), block);
  }
  return validated(s.apply(), path);
}

Result<std::string> set_rule_value(std::string_view text, const std::string& path, const std::string& rule_name,
                                   const std::string& key, const std::string& value) {
  return apply_all(text, path, {[&](const Document& d) { return set_rule_value_raw(d, rule_name, key, value); }});
}

Result<std::string> unset_rule_value(std::string_view text, const std::string& path, const std::string& rule_name,
                                     const std::string& key) {
  return apply_all(text, path, {[&](const Document& d) { return unset_rule_value_raw(d, rule_name, key); }});
}

Result<std::string> set_rule_values(std::string_view text, const std::string& path, const std::string& rule_name,
                                    const std::vector<KeyValue>& set, const std::vector<std::string>& unset) {
  if (set.empty() && unset.empty()) return make_error("nothing to change");
  std::vector<RawEdit> edits;
  const KeyValue* rename = nullptr;
  for (const auto& kv : set) {
    // A rename goes last: the other edits find the rule by its current name.
    if (kv.key == "name") {
      rename = &kv;
      continue;
    }
    edits.push_back([&](const Document& d) { return set_rule_value_raw(d, rule_name, kv.key, kv.value); });
  }
  for (const auto& key : unset) edits.push_back([&](const Document& d) { return unset_rule_value_raw(d, rule_name, key); });
  if (rename) edits.push_back([&](const Document& d) { return set_rule_value_raw(d, rule_name, "name", rename->value); });
  return apply_all(text, path, edits);
}

Result<std::string> remove_rule(std::string_view text, const std::string& path, const std::string& rule_name) {
  auto d = Document::parse(text, path);
  if (!d) return d.error();
  auto r = find_rule(*d, rule_name);
  if (!r) return r.error();
  Splicer s(*d);
  delete_segments(*d, s, {d->segment(*r->header)});
  return validated(s.apply(), path);
}

}  // namespace uplink
