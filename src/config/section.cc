#include "config/section.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "config/diagnostics.h"
#include "config/loader.h"
#include "config/schema.h"
#include "config/toml_util.h"

namespace uplink {

// ---- SectionContext -----------------------------------------------------------

SectionContext::SectionContext(Diagnostics& diagnostics, const Config& core) : diag_(diagnostics), core_(core) {}

size_t SectionContext::error_count() const { return diag_.count(); }

std::string SectionContext::join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

void SectionContext::error_at(int line, int column, const std::string& key_path, const std::string& message) {
  diag_.add(line, column, key_path.empty() ? message : key_path + ": " + message);
}

void SectionContext::error(const toml::node& at, const std::string& key_path, const std::string& message) {
  error_at(static_cast<int>(at.source().begin.line), static_cast<int>(at.source().begin.column), key_path, message);
}

void SectionContext::error_at_key(const toml::table& t, std::string_view key, const std::string& key_path,
                                  const std::string& message) {
  if (const toml::key* k = key_of(t, key)) {
    error_at(static_cast<int>(k->source().begin.line), static_cast<int>(k->source().begin.column), key_path,
             message);
  } else {
    error(t, key_path, message);
  }
}

const toml::node* SectionContext::find(const toml::table& t, std::string_view key, const std::string& path,
                                       bool required) {
  const toml::node* n = t.get(key);
  if (!n && required) error(t, path, "missing required key '" + std::string(key) + "'");
  return n;
}

template <class T>
std::optional<T> SectionContext::checked(Result<T> r, const toml::node& n, const std::string& key_path) {
  if (!r) {
    error(n, key_path, r.error().message);
    return std::nullopt;
  }
  return std::move(*r);
}

std::optional<std::string> SectionContext::get_string(const toml::table& t, std::string_view key,
                                                      const std::string& path, bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  return checked(read_string(*n), *n, join(path, key));
}

std::optional<int64_t> SectionContext::get_int(const toml::table& t, std::string_view key, const std::string& path,
                                               bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  return checked(read_int(*n), *n, join(path, key));
}

std::optional<int64_t> SectionContext::get_int(const toml::table& t, std::string_view key, const std::string& path,
                                               int64_t lo, int64_t hi, bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  return checked(read_int(*n, lo, hi), *n, join(path, key));
}

std::optional<double> SectionContext::get_number(const toml::table& t, std::string_view key, const std::string& path,
                                                 bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  return checked(read_number(*n), *n, join(path, key));
}

std::optional<bool> SectionContext::get_bool(const toml::table& t, std::string_view key, const std::string& path,
                                             bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  return checked(read_bool(*n), *n, join(path, key));
}

std::optional<Duration> SectionContext::get_duration(const toml::table& t, std::string_view key,
                                                     const std::string& path, bool required, bool allow_zero) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  return checked(read_duration(*n, allow_zero), *n, join(path, key));
}

std::optional<uint64_t> SectionContext::get_size(const toml::table& t, std::string_view key, const std::string& path,
                                                 bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  return checked(read_size(*n), *n, join(path, key));
}

std::optional<std::vector<std::string>> SectionContext::get_string_array(const toml::table& t, std::string_view key,
                                                                         const std::string& path, bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  if (!n->is_array()) {
    error(*n, join(path, key), "expected an array of strings, got " + type_name(*n));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  const auto& a = *n->as_array();
  for (size_t i = 0; i < a.size(); ++i) {
    const toml::node& e = *a.get(i);
    if (auto s = checked(read_string(e), e, join(path, key) + "[" + std::to_string(i) + "]")) {
      out.push_back(std::move(*s));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Secret> SectionContext::get_secret(const toml::table& t, std::string_view key, const std::string& path,
                                                 bool required) {
  auto s = get_string(t, key, path, required);
  if (!s) return std::nullopt;
  const toml::node& n = *t.get(key);
  Secret out;
  if (s->rfind("file:", 0) != 0) {
    out.value = *s;
    return out;
  }
  std::string file = s->substr(5);
  if (file.empty() || file.front() != '/') {
    error(n, join(path, key), "a secret file must be an absolute path (\"file:/etc/uplinkd/secrets/NAME\"), got '" +
                                  file + "'");
    return std::nullopt;
  }
  std::string content;
  if (!read_text_file(file, content)) {
    error(n, join(path, key), "cannot read secret file " + file + ": " + std::strerror(errno));
    return std::nullopt;
  }
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
  if (content.empty()) {
    error(n, join(path, key), "secret file " + file + " is empty");
    return std::nullopt;
  }
  out.value = std::move(content);
  out.file = std::move(file);
  return out;
}

const toml::table* SectionContext::get_table(const toml::table& t, std::string_view key, const std::string& path,
                                             bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return nullptr;
  return want_table(*n, join(path, key));
}

std::optional<std::vector<const toml::table*>> SectionContext::get_table_array(const toml::table& t,
                                                                                std::string_view key,
                                                                                const std::string& path,
                                                                                bool required) {
  const toml::node* n = find(t, key, path, required);
  if (!n) return std::nullopt;
  if (!n->is_array()) {
    error(*n, join(path, key), "expected an array of tables ([[" + join(path, key) + "]]), got " + type_name(*n));
    return std::nullopt;
  }
  std::vector<const toml::table*> out;
  bool ok = true;
  const auto& a = *n->as_array();
  for (size_t i = 0; i < a.size(); ++i) {
    const toml::node& e = *a.get(i);
    if (!e.is_table()) {
      error(e, join(path, key) + "[" + std::to_string(i) + "]", "expected a table, got " + type_name(e));
      ok = false;
    } else {
      out.push_back(e.as_table());
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

const toml::table* SectionContext::want_table(const toml::node& node, const std::string& path) {
  if (!node.is_table()) {
    error(node, path, "expected a table, got " + type_name(node));
    return nullptr;
  }
  return node.as_table();
}

void SectionContext::check_keys(const toml::table& t, const std::string& path,
                                std::initializer_list<std::string_view> known) {
  check_keys(t, path, std::vector<std::string_view>(known));
}

void SectionContext::check_keys(const toml::table& t, const std::string& path,
                                const std::vector<std::string_view>& known) {
  for (const auto& e : in_file_order(t)) {
    std::string_view k = e.key->str();
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    error_at(static_cast<int>(e.key->source().begin.line), static_cast<int>(e.key->source().begin.column),
             join(path, k), unknown_key_message(k, known));
  }
}

// ---- SectionRegistry ----------------------------------------------------------

void SectionRegistry::add(SectionSpec spec) {
  if (spec.name.empty() || !spec.parse) {
    throw std::logic_error("config section '" + spec.name + "': a name and a parse function are required");
  }
  if (find_key(Section::root, spec.name)) {
    throw std::logic_error("config section '" + spec.name + "' is a core section of src/config");
  }
  if (find(spec.name)) throw std::logic_error("config section '" + spec.name + "' is registered twice");
  sections_.push_back(std::move(spec));
}

void SectionRegistry::add(LinkExtensionSpec spec) {
  if (!parse_link_kind(spec.kind)) {
    throw std::logic_error("link extension for unknown kind '" + spec.kind + "' (valid: " + valid_names_link_kind() +
                           ")");
  }
  if (!spec.parse) throw std::logic_error("link extension '" + spec.kind + "': a parse function is required");
  if (find_link_extension(spec.kind)) {
    throw std::logic_error("link extension for kind '" + spec.kind + "' is registered twice");
  }
  for (const auto& k : spec.keys) {
    if (find_key(Section::link, k)) {
      throw std::logic_error("link extension '" + spec.kind + "' claims '" + k + "', a core key of [links.NAME]");
    }
  }
  links_.push_back(std::move(spec));
}

const SectionSpec* SectionRegistry::find(std::string_view name) const {
  for (const auto& s : sections_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const LinkExtensionSpec* SectionRegistry::find_link_extension(std::string_view kind) const {
  for (const auto& s : links_) {
    if (s.kind == kind) return &s;
  }
  return nullptr;
}

const LinkExtensionSpec* SectionRegistry::link_extension_owning(std::string_view key) const {
  for (const auto& s : links_) {
    for (const auto& k : s.keys) {
      if (k == key) return &s;
    }
  }
  return nullptr;
}

SectionRegistry& SectionRegistry::global() {
  static SectionRegistry registry;
  return registry;
}

}  // namespace uplink
