#pragma once
// The parsed value of a configuration section a module owns (config/section.h
// registers the parser). This header is part of the config *types*: it has no
// TOML dependency, so a module's runtime code can read its section without
// seeing the parser.
#include <memory>
#include <optional>
#include <string>

namespace uplink {

// The parsed, immutable value of one module-owned section ([uplink],
// [tunnels.*], ...) or of one link kind's extra keys inside [links.NAME].
// A module derives its own type and reads it back with Config::section<T>()
// or LinkConfig::extension_as<T>().
class SectionValue {
 public:
  virtual ~SectionValue() = default;
  // Same configuration? (reload diff, Config::operator==). `other` may be of another type.
  virtual bool equals(const SectionValue& other) const = 0;
  // The section as TOML for `config show` / the writer, parseable again by the
  // section's parser. A top-level section writes its own headers ("[uplink]\n...");
  // a link extension writes "key = value" lines that belong inside [links.NAME]
  // (sub-tables as dotted keys, "sim.slots = [1, 2]", or inline tables).
  // Secrets are written as "***" when mask_secrets.
  virtual std::string to_toml(bool mask_secrets) const = 0;
  // A link extension's keys inside [links.NAME.quality] (LinkExtensionSpec::
  // quality_keys), "key = value" lines; the writer puts them under that header.
  virtual std::string quality_toml() const { return {}; }
};

// Null-safe comparison by equals(): both absent, or both present and equal.
bool same_section(const std::shared_ptr<const SectionValue>& a, const std::shared_ptr<const SectionValue>& b);

// A secret read from the file (SectionContext::get_secret): written inline or
// as "file:/path" (then `value` is the file's content, without its final newline).
struct Secret {
  std::string value;
  std::optional<std::string> file;  // the path when written "file:/path"
  // TOML value text: "\"***\"" when masked, else the form it was written in.
  std::string to_toml(bool mask) const;
  friend bool operator==(const Secret&, const Secret&) = default;
};

}  // namespace uplink
