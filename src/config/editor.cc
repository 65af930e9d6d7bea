#include "config/editor.h"

#include "config/toml.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include "config/loader.h"
#include "config/schema.h"
#include "config/writer.h"

namespace uplink {

namespace {

std::string dotted(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item = trim(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> split_dots(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    out.emplace_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

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
    case ValueKind::string_list: {
      std::string out = "[";
      auto items = split_list(value);
      for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + toml_quote(items[i]);
      return out + "]";
    }
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

// The parsed original text plus what the edits need: byte offsets of toml++
// positions and which tables are written as [headers].
class Document {
 public:
  struct Header {
    std::vector<std::string> path;
    const toml::table* table;
    int line;
  };

  static Result<Document> parse(std::string_view text, const std::string& path) {
    Document d;
    d.text_ = std::string(text);
    try {
      d.root_ = toml::parse(d.text_, std::string_view(path));
    } catch (const toml::parse_error& e) {
      return make_error(path + ":" + std::to_string(e.source().begin.line) + ":" +
                        std::to_string(e.source().begin.column) + ": " + std::string(e.description()) +
                        " (fix the file before editing it)");
    }
    d.line_starts_.push_back(0);
    for (size_t i = 0; i < d.text_.size(); ++i) {
      if (d.text_[i] == '\n') d.line_starts_.push_back(i + 1);
    }
    d.nl_ = d.text_.find("\r\n") != std::string::npos ? "\r\n" : "\n";
    std::vector<std::string> p;
    d.collect(d.root_, p);
    std::sort(d.headers_.begin(), d.headers_.end(), [](const Header& a, const Header& b) { return a.line < b.line; });
    return d;
  }

  const std::string& text() const { return text_; }
  const toml::table& root() const { return root_; }
  const std::vector<Header>& headers() const { return headers_; }
  int line_count() const { return static_cast<int>(line_starts_.size()); }

  // Byte offset of the start of `line` (1-based); line_count()+1 is the end of the text.
  size_t line_start(int line) const {
    if (line < 1) return 0;
    if (line > line_count()) return text_.size();
    return line_starts_[line - 1];
  }
  std::string_view line_text(int line) const {
    size_t b = line_start(line), e = line_start(line + 1);
    std::string_view s(text_.data() + b, e - b);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  }
  bool blank(int line) const { return trim(line_text(line)).empty(); }
  bool comment(int line) const {
    std::string t = trim(line_text(line));
    return !t.empty() && t[0] == '#';
  }
  std::string indent_of(int line) const {
    std::string_view s = line_text(line);
    size_t n = 0;
    while (n < s.size() && (s[n] == ' ' || s[n] == '\t')) ++n;
    return std::string(s.substr(0, n));
  }

  // toml++ columns count code points; convert to a byte offset.
  size_t offset(const toml::source_position& p) const {
    size_t o = line_start(static_cast<int>(p.line));
    for (uint32_t col = 1; col < p.column && o < text_.size(); ++col) {
      ++o;
      while (o < text_.size() && (static_cast<unsigned char>(text_[o]) & 0xC0) == 0x80) ++o;
    }
    return o;
  }

  const Header* header_of(const toml::table* t) const {
    for (const auto& h : headers_) {
      if (h.table == t) return &h;
    }
    return nullptr;
  }

  // Last line holding a key or value of `t` itself (including dotted sub-keys,
  // excluding sub-tables with their own headers); the header line if none.
  int last_entry_line(const toml::table& t) const {
    int last = 0;
    if (const Header* h = header_of(&t)) last = h->line;
    for (auto&& [k, v] : t) {
      if (v.is_table() && !v.as_table()->is_inline() && header_of(v.as_table())) continue;
      if (v.is_array() && is_table_array(*v.as_array())) continue;
      if (v.is_table() && !v.as_table()->is_inline()) {
        last = std::max(last, last_entry_line(*v.as_table()));
      } else {
        last = std::max({last, static_cast<int>(k.source().end.line), static_cast<int>(v.source().end.line)});
      }
    }
    return last;
  }

  bool is_table_array(const toml::array& a) const {
    return !a.empty() && a.get(0)->is_table() && header_of(a.get(0)->as_table());
  }

  // First line of the comment block directly above `line` (no blank line between).
  int attached_start(int line) const {
    while (line > 1 && comment(line - 1)) --line;
    return line;
  }

  // The lines of a [header] block: attached comments, header, its entries.
  std::pair<int, int> segment(const Header& h) const {
    return {attached_start(h.line), last_entry_line(*h.table)};
  }

  std::string nl(std::string s) const {
    if (nl_ == "\n") return s;
    std::string out;
    for (char c : s) {
      if (c == '\n') out += "\r\n";
      else out += c;
    }
    return out;
  }

 private:
  void collect(const toml::table& t, std::vector<std::string>& path) {
    for (auto&& [k, v] : t) {
      path.emplace_back(k.str());
      if (v.is_table() && !v.as_table()->is_inline()) {
        add_if_header(*v.as_table(), path);
        collect(*v.as_table(), path);
      } else if (v.is_array()) {
        for (auto&& e : *v.as_array()) {
          if (e.is_table() && !e.as_table()->is_inline()) {
            add_if_header(*e.as_table(), path);
            collect(*e.as_table(), path);
          }
        }
      }
      path.pop_back();
    }
  }

  // toml++ gives an implicitly created parent ([links] for [links.wan1]) the
  // region of the child's header: only a header spelling this exact path counts.
  void add_if_header(const toml::table& t, const std::vector<std::string>& path) {
    size_t o = offset(t.source().begin);
    if (o >= text_.size() || text_[o] != '[') return;
    auto spelled = header_path(o);
    if (spelled && *spelled == path) headers_.push_back({path, &t, static_cast<int>(t.source().begin.line)});
  }

  std::optional<std::vector<std::string>> header_path(size_t o) const {
    std::vector<std::string> out;
    size_t i = o + 1;
    if (i < text_.size() && text_[i] == '[') ++i;
    auto ws = [&] {
      while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t')) ++i;
    };
    while (true) {
      ws();
      if (i >= text_.size()) return std::nullopt;
      std::string key;
      char q = text_[i];
      if (q == '"' || q == '\'') {
        ++i;
        while (i < text_.size() && text_[i] != q && text_[i] != '\n') {
          if (q == '"' && text_[i] == '\\' && i + 1 < text_.size()) ++i;
          key += text_[i++];
        }
        if (i >= text_.size() || text_[i] != q) return std::nullopt;
        ++i;
      } else {
        while (i < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[i])) || text_[i] == '_' ||
                                    text_[i] == '-')) {
          key += text_[i++];
        }
        if (key.empty()) return std::nullopt;
      }
      out.push_back(key);
      ws();
      if (i < text_.size() && text_[i] == '.') {
        ++i;
        continue;
      }
      if (i < text_.size() && text_[i] == ']') return out;
      return std::nullopt;
    }
  }

  std::string text_;
  toml::table root_;
  std::vector<size_t> line_starts_;
  std::vector<Header> headers_;
  std::string nl_ = "\n";
};

// A list of byte-range replacements on the original text, applied back to front.
class Splicer {
 public:
  explicit Splicer(const Document& d) : doc_(d) {}
  void replace(size_t begin, size_t end, std::string with) { edits_.push_back({begin, end, std::move(with)}); }
  void insert(size_t at, std::string what) { replace(at, at, std::move(what)); }
  // Deletes whole lines [first, last] (1-based, inclusive).
  void delete_lines(int first, int last) { replace(doc_.line_start(first), doc_.line_start(last + 1), ""); }
  // Inserts text as new lines before `line` (line_count()+1 = at the end).
  void insert_lines_before(int line, const std::string& lines) {
    size_t at = doc_.line_start(line);
    std::string s = doc_.nl(lines);
    if (at == doc_.text().size() && !doc_.text().empty() && doc_.text().back() != '\n') s = doc_.nl("\n") + s;
    insert(at, s);
  }
  std::string apply() const {
    std::string out = doc_.text();
    auto sorted = edits_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Edit& a, const Edit& b) { return a.begin > b.begin; });
    for (const auto& e : sorted) out.replace(e.begin, e.end - e.begin, e.with);
    return out;
  }

 private:
  struct Edit {
    size_t begin, end;
    std::string with;
  };
  const Document& doc_;
  std::vector<Edit> edits_;
};

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

const toml::table* child_table(const toml::table* t, const std::string& key) {
  if (!t) return nullptr;
  const toml::node* n = t->get(key);
  return n && n->is_table() ? n->as_table() : nullptr;
}

const toml::table* find_table(const Document& d, const std::vector<std::string>& path) {
  const toml::table* t = &d.root();
  for (const auto& p : path) t = child_table(t, p);
  return t;
}

Result<void> require_named(const Document& d, const std::vector<std::string>& table_path) {
  if (table_path.size() >= 2 && (table_path[0] == "links" || table_path[0] == "policies")) {
    if (!find_table(d, {table_path[0], table_path[1]})) {
      return make_error(std::string(table_path[0] == "links" ? "link" : "policy") + " '" + table_path[1] +
                        "' does not exist");
    }
  }
  return {};
}

// Lines [first, last] of every header block inside `path` (the table and its sub-tables).
std::vector<std::pair<int, int>> family_segments(const Document& d, const std::vector<std::string>& path) {
  std::vector<std::pair<int, int>> out;
  for (const auto& h : d.headers()) {
    if (h.path.size() >= path.size() && std::equal(path.begin(), path.end(), h.path.begin())) {
      out.push_back(d.segment(h));
    }
  }
  return out;
}

int last_line_of(const std::vector<std::pair<int, int>>& segs) {
  int last = 0;
  for (auto [a, b] : segs) last = std::max(last, b);
  return last;
}

// Removes the given line blocks and the blank lines that separated them from what follows.
void delete_segments(const Document& d, Splicer& s, std::vector<std::pair<int, int>> segs) {
  std::sort(segs.begin(), segs.end());
  // Merge blocks that touch, so the blank-line handling sees one block.
  std::vector<std::pair<int, int>> merged;
  for (auto seg : segs) {
    if (!merged.empty() && seg.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, seg.second);
    } else {
      merged.push_back(seg);
    }
  }
  for (auto [first, last] : merged) {
    while (last < d.line_count() && d.blank(last + 1)) ++last;
    if (last >= d.line_count()) {
      while (first > 1 && d.blank(first - 1)) --first;  // at the end of the file: no trailing blank lines
    }
    s.delete_lines(first, last);
  }
}

// Inserts a block of lines (a [header] section) after line `after`, keeping
// one blank line on each side.
void insert_block_after(const Document& d, Splicer& s, int after, const std::string& block) {
  std::string text = (after > 0 ? "\n" : "") + block;
  if (after + 1 <= d.line_count() && !d.blank(after + 1)) {
    text += "\n";
  }
  s.insert_lines_before(after + 1, text);
}

void insert_block_before(const Document& d, Splicer& s, int before, const std::string& block) {
  (void)d;
  s.insert_lines_before(before, block + "\n");
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

// Resolves a table path to (table, nearest header-defined ancestor, path relative to it).
struct Located {
  const toml::table* table = nullptr;
  const Document::Header* anchor = nullptr;
  std::vector<std::string> rel;  // components from anchor to table (for dotted keys)
};

Located locate(const Document& d, const std::vector<std::string>& path) {
  Located l;
  const toml::table* t = &d.root();
  for (const auto& p : path) {
    t = child_table(t, p);
    if (!t) return {};
    if (const auto* h = d.header_of(t)) {
      l.anchor = h;
      l.rel.clear();
    } else {
      l.rel.push_back(p);
    }
  }
  l.table = t;
  return l;
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

}  // namespace

Result<KeyValue> parse_key_value(std::string_view arg) {
  auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return make_error("expected KEY=VALUE, got '" + std::string(arg) + "'");
  }
  return KeyValue{trim(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
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

using RawEdit = std::function<Result<std::string>(const Document&)>;

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

}  // namespace

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
