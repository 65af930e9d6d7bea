#pragma once
// Configuration sections owned by modules (ARCHITECTURE.md §4 "Modules
// register themselves"): a module brings its own top-level section ([uplink],
// [tunnels.NAME], [plugins.NAME], ...) and the extra keys of its link kind
// inside [links.NAME] without editing src/config. The loader hands the TOML of
// a registered section to the module's parser, with a SectionContext that
// reports errors as "FILE:LINE:COL: key.path: message" and collects them (all
// errors of a file are reported at once; a parser never throws).
//
// Example (a module's own folder, e.g. src/uplink/uplink_config.cc):
//
//   struct UplinkSection final : SectionValue {
//     std::string broker;
//     Secret access_token;
//     Duration keepalive = 30s;
//     bool equals(const SectionValue& o) const override {
//       auto* u = dynamic_cast<const UplinkSection*>(&o);
//       return u && u->broker == broker && u->access_token == access_token && u->keepalive == keepalive;
//     }
//     std::string to_toml(bool mask) const override {
//       return "[uplink]\nbroker = " + toml_quote(broker) + "\naccess_token = " + access_token.to_toml(mask) +
//              "\nkeepalive = " + toml_quote(format_duration(keepalive)) + "\n";
//     }
//   };
//
//   void register_uplink_config(SectionRegistry& r) {
//     r.add(SectionSpec{
//         .name = "uplink",
//         .parse = [](const toml::node& node, SectionContext& ctx) -> std::shared_ptr<const SectionValue> {
//           const toml::table* t = ctx.want_table(node, "uplink");
//           if (!t) return nullptr;
//           ctx.check_keys(*t, "uplink", {"broker", "access_token", "keepalive"});
//           auto s = std::make_shared<UplinkSection>();
//           if (auto v = ctx.get_string(*t, "broker", "uplink", /*required=*/true)) s->broker = *v;
//           if (auto v = ctx.get_secret(*t, "access_token", "uplink")) s->access_token = *v;
//           if (auto v = ctx.get_duration(*t, "keepalive", "uplink")) s->keepalive = *v;
//           return s;   // returning a value after errors is fine: the load fails anyway
//         },
//         .validate = [](const Config& c, SectionContext& ctx) {
//           // cross-checks against the core (policies exist, ...): ctx.error(...)
//         }});
//   }
//
//   // runtime code depends on config types only:  config.section<UplinkSection>("uplink")
//
// A link kind's keys: LinkExtensionSpec{.kind = "cellular", .keys = {"apn_user", "sim", ...}, .parse = ...};
// the value is LinkConfig::extension (link.extension_as<CellularLink>()).
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "config/section_value.h"
#include "config/toml.h"

namespace uplink {

class Diagnostics;  // config/diagnostics.h: the error collector of one load

// Handed to section parsers and validators. Every reader reports a problem
// (with the position of the offending value or key) and returns nullopt; a
// parser keeps going so that all problems of the file are listed at once.
// key paths are dotted: path "uplink.queue" + key "max_size" -> "uplink.queue.max_size".
class SectionContext {
 public:
  SectionContext(Diagnostics& diagnostics, const Config& core);

  // The core configuration parsed so far ([daemon], links, policies, rules) for cross-checks.
  // While link extensions parse: the links before this one.
  const Config& core() const { return core_; }

  // "FILE:LINE:COL: key_path: message" at the node's position.
  void error(const toml::node& at, const std::string& key_path, const std::string& message);
  void error_at(int line, int column, const std::string& key_path, const std::string& message);
  // At the position of key `key` of `t` (its name), else of `t`.
  void error_at_key(const toml::table& t, std::string_view key, const std::string& key_path,
                    const std::string& message);
  // Errors reported so far in this load (all sections and the core): a parser can
  // compare before/after to skip a cross-check on values that failed.
  size_t error_count() const;

  // ---- typed readers: nullopt when absent (an error too when `required`) or invalid ----
  std::optional<std::string> get_string(const toml::table& t, std::string_view key, const std::string& path,
                                        bool required = false);
  std::optional<int64_t> get_int(const toml::table& t, std::string_view key, const std::string& path,
                                 bool required = false);
  // Within [lo, hi] ("must be at most 9000, got 9001").
  std::optional<int64_t> get_int(const toml::table& t, std::string_view key, const std::string& path, int64_t lo,
                                 int64_t hi, bool required = false);
  // An integer or a float, finite.
  std::optional<double> get_number(const toml::table& t, std::string_view key, const std::string& path,
                                   bool required = false);
  std::optional<bool> get_bool(const toml::table& t, std::string_view key, const std::string& path,
                               bool required = false);
  // "100ms", "2s", "10m": greater than 0 unless allow_zero.
  std::optional<Duration> get_duration(const toml::table& t, std::string_view key, const std::string& path,
                                       bool required = false, bool allow_zero = false);
  // "256MiB", "10kB".
  std::optional<uint64_t> get_size(const toml::table& t, std::string_view key, const std::string& path,
                                   bool required = false);
  std::optional<std::vector<std::string>> get_string_array(const toml::table& t, std::string_view key,
                                                           const std::string& path, bool required = false);
  // Inline, or "file:/path": the file is read now; an unreadable or empty file is an
  // error naming the file and the reason. The file's final newline is dropped.
  std::optional<Secret> get_secret(const toml::table& t, std::string_view key, const std::string& path,
                                   bool required = false);
  // A sub-table ([uplink.queue] or an inline table); nullptr when absent or not a table.
  const toml::table* get_table(const toml::table& t, std::string_view key, const std::string& path,
                               bool required = false);
  // An array of tables ([[uplink.classes]]); nullopt when absent or not one.
  std::optional<std::vector<const toml::table*>> get_table_array(const toml::table& t, std::string_view key,
                                                                 const std::string& path, bool required = false);
  // `node` itself as a table ("expected a table, got an integer"); nullptr otherwise.
  const toml::table* want_table(const toml::node& node, const std::string& path);

  // Every key of `t` not in `known` is an "unknown key" error, with a "did you
  // mean" when one is close, exactly as the core loader reports its own.
  void check_keys(const toml::table& t, const std::string& path, std::initializer_list<std::string_view> known);
  void check_keys(const toml::table& t, const std::string& path, const std::vector<std::string_view>& known);

  // path + "." + key (just key when path is empty).
  static std::string join(const std::string& path, std::string_view key);

 private:
  const toml::node* find(const toml::table& t, std::string_view key, const std::string& path, bool required);
  // A shared reader's result (toml_util.h): the value, or the message reported at `n`.
  template <class T>
  std::optional<T> checked(Result<T> r, const toml::node& n, const std::string& key_path);
  Diagnostics& diag_;
  const Config& core_;
};

struct SectionSpec {
  // Every member has a default, so designated initializers may leave any out.
  std::string name{};  // the top-level key the module owns: "uplink", "tunnels", "plugins", "testmod"
  // Parses the node (a table, or an array of tables for [[name]]). Returns the
  // value, or nullptr after reporting errors.
  std::function<std::shared_ptr<const SectionValue>(const toml::node& node, SectionContext& ctx)> parse{};
  // Optional: the value when the file has no such section (empty = absent stays absent).
  std::function<std::shared_ptr<const SectionValue>()> absent{};
  // Optional: cross-checks once the core and every section are parsed (config.sections is filled).
  std::function<void(const Config& config, SectionContext& ctx)> validate{};
};

// Extra keys inside [links.NAME] (and sub-tables of it) for one link kind:
// kind "cellular" claims apn_user, apn_password, ip_type, roaming, sim, reconnect;
// kind "wireguard" claims tunnel. The loader accepts these keys only on links of
// that kind and calls `parse` for every link of that kind (also when none of
// its keys is written, so it can require one or supply defaults).
struct LinkExtensionSpec {
  std::string kind{};               // a LinkKind name: "cellular", "wireguard", ...
  std::vector<std::string> keys{};  // the keys it owns inside [links.NAME]
  // Keys it adds inside [links.NAME.quality] (cellular: min_signal, min_rsrp,
  // min_sinr); its `parse` reads them from the link table's "quality" table.
  std::vector<std::string> quality_keys{};
  // link_path is "links.NAME". Returns the value (LinkConfig::extension) or nullptr.
  std::function<std::shared_ptr<const SectionValue>(const toml::table& link_table, const std::string& link_path,
                                                    SectionContext& ctx)>
      parse{};
  // Optional: cross-checks once everything is parsed (e.g. the tunnel exists).
  std::function<void(const Config& config, const LinkConfig& link, SectionContext& ctx)> validate{};
};

// The sections and link extensions a load knows. parse_config() and
// load_config_file() use global() unless given another (tests use their own).
// Registration happens at start-up (register_module_configs), before any load.
class SectionRegistry {
 public:
  // Throws std::logic_error on a programming error: a duplicate name, a core
  // key ("daemon", "links", ...), an unknown link kind, a key the core link
  // table already has, or no parse function.
  void add(SectionSpec spec);
  void add(LinkExtensionSpec spec);

  const SectionSpec* find(std::string_view name) const;
  const LinkExtensionSpec* find_link_extension(std::string_view kind) const;
  // The extension (of any kind) that owns `key` inside [links.NAME], if any.
  const LinkExtensionSpec* link_extension_owning(std::string_view key) const;
  // In registration order.
  const std::vector<SectionSpec>& sections() const { return sections_; }

  static SectionRegistry& global();

 private:
  std::vector<SectionSpec> sections_;
  std::vector<LinkExtensionSpec> links_;
};

}  // namespace uplink
