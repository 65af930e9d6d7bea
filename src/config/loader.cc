#include "config/loader.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/loader_impl.h"

namespace uplink {

Loader::Loader(std::string path, const SectionRegistry& registry)
    : path_(std::move(path)), registry_(registry), diag_(path_) {}

Config Loader::run(std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(path_));
  } catch (const toml::parse_error& e) {
    // toml++ stops at the first syntax error: there is nothing more to check.
    diag_.add(static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column),
              describe_syntax_error(text, e));
    diag_.throw_if_any();
  }
  Config c;
  c.path = path_;
  // Every fail() is inside a guard(); this one only makes sure nothing but ConfigError ever leaves.
  guard([&] { load_all(root, c); });
  diag_.throw_if_any();
  return c;
}

void Loader::load_all(const toml::table& root, Config& c) {
  std::vector<std::string_view> module_sections;
  for (const auto& s : registry_.sections()) module_sections.push_back(s.name);
  for (const auto& e : in_file_order(root)) {
    std::string_view key = e.key->str();
    if (!find_key(Section::root, key) && !registry_.find(key)) unknown_key(*e.key, "", Section::root, module_sections);
  }
  if (auto* n = root.get("daemon")) {
    if (!guard([&] { load_daemon(want_table(*n, "daemon"), c.daemon); })) daemon_marks_ok_ = false;
  }
  if (auto* n = root.get("links")) guard([&] { load_links(want_table(*n, "links"), c); });
  if (auto* n = root.get("policies")) guard([&] { load_policies(want_table(*n, "policies"), c); });
  if (auto* n = root.get("rules")) guard([&] { load_rules(*n, c); });
  load_sections(root, c);
  validate_sections(c);
}

// ---- errors -------------------------------------------------------------------

void Loader::report(const Region& r, const std::string& msg) {
  diag_.add(static_cast<int>(r.begin.line), static_cast<int>(r.begin.column), msg);
}

void Loader::report(const toml::node& n, const std::string& where, const std::string& msg) {
  report(n.source(), where + ": " + msg);
}

void Loader::fail(const Region& r, const std::string& msg) {
  report(r, msg);
  throw Bail{};
}

void Loader::fail(const toml::node& n, const std::string& where, const std::string& msg) {
  report(n, where, msg);
  throw Bail{};
}

bool Loader::guard(const std::function<void()>& step) {
  try {
    step();
    return true;
  } catch (const Bail&) {
    return false;
  }
}

bool Loader::read_key(const toml::table& t, std::string_view key, const std::function<void(const toml::node&)>& read) {
  const toml::node* n = t.get(key);
  return !n || guard([&] { read(*n); });
}

void Loader::unknown_key(const toml::key& k, const std::string& where, Section s,
                         const std::vector<std::string_view>& extra) {
  std::vector<std::string_view> names;
  for (const auto& spec : keys_of(s)) names.push_back(spec.name);
  names.insert(names.end(), extra.begin(), extra.end());
  report(k.source(), SectionContext::join(where, k.str()) + ": " + unknown_key_message(k.str(), names));
}

void Loader::check_keys(const toml::table& t, Section s, const std::string& where,
                        const std::vector<std::string_view>& extra) {
  for (const auto& e : in_file_order(t)) {
    std::string_view key = e.key->str();
    if (find_key(s, key) || std::find(extra.begin(), extra.end(), key) != extra.end()) continue;
    unknown_key(*e.key, where, s, extra);
  }
}

std::string Loader::defined_list(const std::vector<std::string>& names, std::string_view what) {
  if (names.empty()) return " (no " + std::string(what) + " are defined)";
  std::string out = " (defined " + std::string(what) + ": ";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out + ")";
}

// ---- module sections ------------------------------------------------------------

void call_module(Diagnostics& diag, const toml::node* at, const std::string& where, const std::function<void()>& fn) {
  auto line = at ? static_cast<int>(at->source().begin.line) : 0;
  auto col = at ? static_cast<int>(at->source().begin.column) : 0;
  try {
    fn();
  } catch (const ConfigError& e) {
    for (const auto& i : e.errors()) diag.add(i.line, i.column, i.message);
  } catch (const std::exception& e) {
    diag.add(line, col, where + ": " + e.what());
  }
}

void Loader::load_sections(const toml::table& root, Config& c) {
  for (const auto& e : in_file_order(root)) {
    const SectionSpec* spec = registry_.find(e.key->str());
    if (!spec) continue;
    SectionContext ctx(diag_, c);
    std::shared_ptr<const SectionValue> value;
    call_module(diag_, e.node, spec->name, [&] { value = spec->parse(*e.node, ctx); });
    if (value) c.sections[spec->name] = std::move(value);
  }
  for (const auto& spec : registry_.sections()) {
    if (root.get(spec.name) || !spec.absent) continue;
    call_module(diag_, nullptr, spec.name, [&] {
      if (auto value = spec.absent()) c.sections[spec.name] = std::move(value);
    });
  }
}

void Loader::validate_sections(Config& c) {
  SectionContext ctx(diag_, c);
  for (const auto& name : c.link_order) {
    const LinkConfig& l = c.links.at(name);
    const LinkExtensionSpec* ext = registry_.find_link_extension(to_string(l.kind));
    if (!ext || !ext->validate) continue;
    call_module(diag_, link_nodes_.count(name) ? link_nodes_.at(name) : nullptr, "links." + name,
                [&] { ext->validate(c, l, ctx); });
  }
  for (const auto& spec : registry_.sections()) {
    if (!spec.validate) continue;
    call_module(diag_, nullptr, spec.name, [&] { spec.validate(c, ctx); });
  }
}

// ---- entry points -----------------------------------------------------------------

Config parse_config(std::string_view text, const std::string& path, const SectionRegistry& registry) {
  return Loader(path, registry).run(text);
}

Config parse_config(std::string_view text, const std::string& path) {
  return parse_config(text, path, SectionRegistry::global());
}

bool read_text_file(const std::string& path, std::string& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out.clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool ok = !std::ferror(f);
  int err = errno;
  std::fclose(f);
  errno = err;
  return ok;
}

Config load_config_file(const std::string& path, const SectionRegistry& registry) {
  std::string text;
  if (!read_text_file(path, text)) throw ConfigError(path, 0, 0, std::string("cannot read: ") + std::strerror(errno));
  return parse_config(text, path, registry);
}

Config load_config_file(const std::string& path) { return load_config_file(path, SectionRegistry::global()); }

}  // namespace uplink
