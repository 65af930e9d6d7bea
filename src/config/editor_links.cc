// Adding links and policies; a policy's members.
#include <algorithm>

#include "config/editor_internal.h"
#include "config/writer.h"

namespace uplink {

using namespace edit_detail;

Result<std::string> add_link(std::string_view text, const std::string& path, const LinkAddSpec& spec) {
  auto d = Document::parse(text, path);
  if (!d) return d.error();
  if (find_table(*d, {"links", spec.name})) return make_error("link '" + spec.name + "' already exists");
  std::string where = "links." + toml_key(spec.name);
  std::vector<KeyValue> link_kv{{"kind", spec.kind}, {"interface", spec.interface}};
  if (spec.gateway) link_kv.push_back({"gateway", *spec.gateway});
  std::vector<KeyValue> probe_kv, quality_kv;
  std::string targets;
  for (const auto& t : spec.targets) targets += (targets.empty() ? "" : ",") + t;
  for (const auto& kv : spec.settings) {
    auto parts = split_dots(kv.key);
    if (parts.size() == 2 && parts[0] == "probe") {
      if (parts[1] == "targets") {
        targets = kv.value;
      } else {
        probe_kv.push_back({parts[1], kv.value});
      }
    } else if (parts.size() == 2 && parts[0] == "quality") {
      quality_kv.push_back({parts[1], kv.value});
    } else if (parts.size() == 1) {
      link_kv.push_back(kv);
    } else {
      return make_error("unknown key '" + kv.key + "' for a link");
    }
  }
  if (targets.empty()) return make_error("link '" + spec.name + "' needs at least one probe target (--target IP)");
  probe_kv.insert(probe_kv.begin(), {"targets", targets});
  auto l1 = section_lines(Section::link, where, link_kv);
  if (!l1) return l1.error();
  auto l2 = section_lines(Section::probe, where + ".probe", probe_kv);
  if (!l2) return l2.error();
  std::string block = "[" + where + "]\n" + *l1 + "\n[" + where + ".probe]\n" + *l2;
  if (!quality_kv.empty()) {
    auto l3 = section_lines(Section::quality, where + ".quality", quality_kv);
    if (!l3) return l3.error();
    block += "\n[" + where + ".quality]\n" + *l3;
  }
  Splicer s(*d);
  // Grouped with the other links; else above the policies and rules; else at the end.
  int last_link = last_line_of(family_segments(*d, {"links"}));
  if (last_link > 0) {
    insert_block_after(*d, s, last_link, block);
  } else {
    auto first = std::find_if(d->headers().begin(), d->headers().end(),
                              [](const auto& h) { return h.path[0] == "policies" || h.path[0] == "rules"; });
    if (first != d->headers().end()) {
      insert_block_before(*d, s, d->attached_start(first->line), block);
    } else {
      insert_block_after(*d, s, d->line_count(), block);
    }
  }
  return validated(s.apply(), path);
}

Result<std::string> add_policy(std::string_view text, const std::string& path, const PolicyAddSpec& spec) {
  auto d = Document::parse(text, path);
  if (!d) return d.error();
  if (find_table(*d, {"policies", spec.name})) return make_error("policy '" + spec.name + "' already exists");
  if (spec.members.empty()) return make_error("policy '" + spec.name + "' needs at least one member");
  std::string block = "[policies." + toml_key(spec.name) + "]\nmode = " + toml_quote(spec.mode) +
                      "\nmembers = " + members_text(spec.members, "") + "\n";
  if (spec.last_resort) block += "last_resort = " + toml_quote(*spec.last_resort) + "\n";
  Splicer s(*d);
  int last_policy = last_line_of(family_segments(*d, {"policies"}));
  if (last_policy > 0) {
    insert_block_after(*d, s, last_policy, block);
  } else {
    auto first = std::find_if(d->headers().begin(), d->headers().end(),
                              [](const auto& h) { return h.path[0] == "rules"; });
    if (first != d->headers().end()) {
      insert_block_before(*d, s, d->attached_start(first->line), block);
    } else {
      insert_block_after(*d, s, d->line_count(), block);
    }
  }
  return validated(s.apply(), path);
}

Result<std::string> set_policy_members(std::string_view text, const std::string& path, const std::string& policy,
                                       const std::vector<PolicyMember>& members) {
  auto d = Document::parse(text, path);
  if (!d) return d.error();
  const toml::table* t = find_table(*d, {"policies", policy});
  if (!t) return make_error("policy '" + policy + "' does not exist");
  if (members.empty()) return make_error("policy '" + policy + "' needs at least one member");
  Located l = locate(*d, {"policies", policy});
  std::string indent;
  if (const toml::node* n = t->get("members")) indent = d->indent_of(static_cast<int>(n->source().begin.line));
  auto out = set_in_table(*d, *t, l.rel, l.anchor, "members", members_text(members, indent));
  if (!out) return out;
  return validated(std::move(*out), path);
}

}  // namespace uplink
