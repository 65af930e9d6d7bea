#pragma once
// The loader's internals, split by concern over loader_*.cc (internal to src/config):
//   loader.cc           entry points, the root table, module sections, error collection
//   loader_values.cc    typed access to TOML values (strings, numbers, durations, addresses, ports)
//   loader_daemon.cc    [daemon]
//   loader_links.cc     [links.NAME], its probe and quality tables, link-kind extensions
//   loader_policies.cc  [policies.NAME] and [[rules]]
//   loader_assign.cc    cross-link checks: automatic table ids and fwmarks
//
// Errors: fail() records the problem and unwinds to the nearest guard(), which
// lets the loader go on with the next key, table or array element; so one
// pass lists every problem, and nothing is thrown out of run() but the
// ConfigError that carries them all.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/diagnostics.h"
#include "config/schema.h"
#include "config/section.h"
#include "config/toml.h"
#include "config/toml_util.h"

namespace uplink {

// Link, policy and rule names end up in logs, JSON, nft comments and CLI
// arguments: keep them to a safe alphabet.
bool valid_name(std::string_view s);
// Kernel interface names: at most 15 bytes (IFNAMSIZ - 1), no '/', ':' or whitespace.
bool valid_interface(std::string_view s);
bool all_digits(std::string_view s);
std::optional<uint16_t> parse_port_number(std::string_view s);
std::string hex(uint32_t v);
// "203.0.113.1", "203.0.113.1:7", "[2001:db8::1]:53".
Result<ProbeTarget> parse_target(std::string_view text);
// "any", "imei:NUMBER", "index:N", "port:NAME".
Result<std::string> check_modem_selector(const std::string& s);

// Runs a module's parser or validator. It must report through its
// SectionContext; if it throws anyway, the problem is reported at `at` (the
// section) instead of escaping as something other than a ConfigError.
void call_module(Diagnostics& diag, const toml::node* at, const std::string& where, const std::function<void()>& fn);

class Loader {
 public:
  Loader(std::string path, const SectionRegistry& registry);
  Config run(std::string_view text);

 private:
  void load_all(const toml::table& root, Config& c);
  // Thrown by fail() after recording the error; caught by guard().
  struct Bail {};
  using Region = toml::source_region;

  // ---- errors (loader.cc) ----
  void report(const Region& r, const std::string& msg);
  void report(const toml::node& n, const std::string& where, const std::string& msg);
  [[noreturn]] void fail(const Region& r, const std::string& msg);
  [[noreturn]] void fail(const toml::node& n, const std::string& where, const std::string& msg);
  // Runs `step`; an error inside it ends the step, not the load. False when it failed.
  bool guard(const std::function<void()>& step);
  // Key `key` of `t`, when written, read by `read` under its own guard(): an error
  // in one key does not hide the others. False when it was written and failed.
  bool read_key(const toml::table& t, std::string_view key, const std::function<void(const toml::node&)>& read);
  void unknown_key(const toml::key& k, const std::string& where, Section s,
                   const std::vector<std::string_view>& extra = {});
  void check_keys(const toml::table& t, Section s, const std::string& where,
                  const std::vector<std::string_view>& extra = {});
  static std::string defined_list(const std::vector<std::string>& names, std::string_view what);

  // ---- module sections (loader.cc) ----
  void load_sections(const toml::table& root, Config& c);
  void validate_sections(Config& c);

  // ---- typed access (loader_values.cc), over the shared readers of toml_util.h ----
  template <class T>
  T value_or_fail(Result<T> r, const toml::node& n, const std::string& where);
  const toml::table& want_table(const toml::node& n, const std::string& where);
  std::string get_string(const toml::node& n, const std::string& where);
  bool get_bool(const toml::node& n, const std::string& where);
  int64_t get_int(const toml::node& n, const std::string& where, int64_t lo, int64_t hi);
  double get_number(const toml::node& n, const std::string& where);
  Duration get_duration(const toml::node& n, const std::string& where, bool allow_zero = false);
  const toml::array& want_array(const toml::node& n, const std::string& where, bool non_empty);
  std::string get_path(const toml::node& n, const std::string& where);
  std::string get_interface(const toml::node& n, const std::string& where);
  IpPrefix get_prefix(const toml::node& n, const std::string& where);
  IpAddress get_address(const toml::node& n, const std::string& where);
  std::vector<PortRange> get_ports(const toml::node& n, const std::string& where);
  PortRange get_port(const toml::node& n, const std::string& where);

  // ---- [daemon] (loader_daemon.cc) ----
  void load_daemon(const toml::table& t, DaemonConfig& d);

  // ---- [links.NAME] (loader_links.cc) ----
  void load_links(const toml::table& links, Config& c);
  LinkConfig load_link(const std::string& name, const toml::table& t, const std::string& where, const Config& c);
  void load_probe(const toml::table& t, LinkConfig& l, const std::string& where);
  // nullopt when the table holds only the link kind's own keys (extension_keys).
  std::optional<QualityConfig> load_quality(const toml::table& t, const std::string& where,
                                            const std::vector<std::string_view>& extension_keys);

  // ---- [policies.NAME], [[rules]] (loader_policies.cc) ----
  void load_policies(const toml::table& policies, Config& c);
  PolicyConfig load_policy(const std::string& name, const toml::table& t, const std::string& where, const Config& c);
  void load_rules(const toml::node& n, Config& c);
  RuleConfig load_rule(const toml::table& t, const std::string& where, const Config& c);

  // ---- automatic ids (loader_assign.cc) ----
  void assign_tables(Config& c);
  void assign_fwmarks(Config& c);

  std::string path_;
  const SectionRegistry& registry_;
  Diagnostics diag_;
  std::map<std::string, const toml::table*> link_nodes_;
  // Names declared in the file, also when their table had errors: a reference
  // to them is not reported again as "does not exist".
  std::set<std::string> declared_links_, declared_policies_;
  // [daemon] values that failed: checks that depend on them are skipped.
  bool daemon_marks_ok_ = true;
};

}  // namespace uplink
