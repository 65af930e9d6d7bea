// The editor's text model: the parsed document, [header] blocks, locating tables, splicing.
#include <algorithm>
#include <cctype>

#include "config/editor_internal.h"
#include "config/toml_util.h"

namespace uplink::edit_detail {

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


// ---- Document ----

Result<Document> Document::parse(std::string_view text, const std::string& path) {
  Document d;
  d.text_ = std::string(text);
  try {
    d.root_ = toml::parse(d.text_, std::string_view(path));
  } catch (const toml::parse_error& e) {
    return make_error(path + ":" + std::to_string(e.source().begin.line) + ":" +
                      std::to_string(e.source().begin.column) + ": " + describe_syntax_error(text, e) +
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

int Document::last_entry_line(const toml::table& t) const {
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

void Document::collect(const toml::table& t, std::vector<std::string>& path) {
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

void Document::add_if_header(const toml::table& t, const std::vector<std::string>& path) {
  size_t o = offset(t.source().begin);
  if (o >= text_.size() || text_[o] != '[') return;
  auto spelled = header_path(o);
  if (spelled && *spelled == path) headers_.push_back({path, &t, static_cast<int>(t.source().begin.line)});
}

std::optional<std::vector<std::string>> Document::header_path(size_t o) const {
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

}  // namespace uplink::edit_detail
