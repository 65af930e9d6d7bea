#pragma once
// The editor's internals, split by concern over editor_*.cc (internal to src/config):
//   editor_document.cc  the text model: the parsed document, byte offsets, [header]
//                       blocks, locating tables, splicing lines in and out
//   editor_values.cc    CLI strings -> TOML value text, by the schema
//   editor_tables.cc    set / unset a key, create / remove a table, validation of the result
//   editor_links.cc     add a link, add a policy, set its members
//   editor_rules.cc     the [[rules]] edits
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "config/editor.h"
#include "config/schema.h"
#include "config/toml.h"

namespace uplink::edit_detail {

// ---- text helpers (editor_document.cc) ----
std::string dotted(const std::vector<std::string>& path);
std::string trim(std::string_view s);
bool all_digits(std::string_view s);
std::vector<std::string> split_list(std::string_view s);
std::vector<std::string> split_dots(std::string_view s);

// The parsed original text plus what the edits need: byte offsets of toml++
// positions and which tables are written as [headers].
class Document {
 public:
  struct Header {
    std::vector<std::string> path;
    const toml::table* table;
    int line;
  };

  // The document, or "FILE:LINE:COL: ... (fix the file before editing it)" for a syntax error.
  static Result<Document> parse(std::string_view text, const std::string& path);

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
  int last_entry_line(const toml::table& t) const;

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
  void collect(const toml::table& t, std::vector<std::string>& path);

  // toml++ gives an implicitly created parent ([links] for [links.wan1]) the
  // region of the child's header: only a header spelling this exact path counts.
  void add_if_header(const toml::table& t, const std::vector<std::string>& path);

  std::optional<std::vector<std::string>> header_path(size_t o) const;

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


// ---- locating tables and blocks (editor_document.cc) ----
const toml::table* child_table(const toml::table* t, const std::string& key);
const toml::table* find_table(const Document& d, const std::vector<std::string>& path);
Result<void> require_named(const Document& d, const std::vector<std::string>& table_path);
// Lines [first, last] of every header block inside `path` (the table and its sub-tables).
std::vector<std::pair<int, int>> family_segments(const Document& d, const std::vector<std::string>& path);
int last_line_of(const std::vector<std::pair<int, int>>& segs);
// Removes the given line blocks and the blank lines that separated them from what follows.
void delete_segments(const Document& d, Splicer& s, std::vector<std::pair<int, int>> segs);
// Inserts a block of lines (a [header] section) after line `after`, keeping one blank line on each side.
void insert_block_after(const Document& d, Splicer& s, int after, const std::string& block);
void insert_block_before(const Document& d, Splicer& s, int before, const std::string& block);
// Resolves a table path to (table, nearest header-defined ancestor, path relative to it).
struct Located {
  const toml::table* table = nullptr;
  const Document::Header* anchor = nullptr;
  std::vector<std::string> rel;  // components from anchor to table (for dotted keys)
};

Located locate(const Document& d, const std::vector<std::string>& path);

// ---- values (editor_values.cc) ----
std::string members_text(const std::vector<PolicyMember>& members, const std::string& indent);
// CLI string -> TOML value text, by the schema's kind for this key.
Result<std::string> toml_value(ValueKind kind, const std::string& where, const std::string& value,
                               const std::string& indent);
// Which schema section a table path names.
std::optional<Section> section_of(const std::vector<std::string>& p);
Result<const KeySpec*> lookup_key(Section s, const std::string& where, const std::string& key);
// Key/value lines for a new section, in the order given, typed by the schema.
Result<std::string> section_lines(Section sec, const std::string& where, const std::vector<KeyValue>& kvs);

// ---- table edits (editor_tables.cc); the *_raw / *_impl edits do not validate ----
// The new text must be a valid configuration.
Result<std::string> validated(std::string text, const std::string& path);
Result<std::string> set_in_table(const Document& d, const toml::table& t, const std::vector<std::string>& rel_prefix,
                                 const Document::Header* anchor, const std::string& key, const std::string& value_text);
Result<std::string> unset_in_table(const Document& d, const toml::table& t, const std::string& where,
                                   const std::string& key);
using RawEdit = std::function<Result<std::string>(const Document&)>;
// Applies edits one after another (each on the re-parsed result of the
// previous one) and validates only the final text.
Result<std::string> apply_all(std::string_view text, const std::string& path, const std::vector<RawEdit>& edits);

}  // namespace uplink::edit_detail
