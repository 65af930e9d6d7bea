#pragma once
// Comment-preserving edits of the user's configuration file, for the CLI
// verbs `link add/set/remove/enable/disable`, `policy add/set/remove` and
// `rule add/set/remove`.
//
// Design: the original text is edited surgically at the byte ranges toml++
// reports for keys, values and [table] headers (a value replaced in place
// keeps the comment after it; a removed table takes the comment lines
// directly above its header with it, nothing else), and the result is
// re-parsed with parse_config(). Every function returns the new file text,
// or an Error saying what is wrong ("link 'wan9' does not exist", or the
// FILE:LINE:COL message of the validation that failed) — the caller writes
// the text back with write_file_atomically() only on success.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/atomic_write.h"
#include "config/config.h"

namespace uplink {

// A CLI "key=value" argument. The key may be dotted: "probe.interval".
struct KeyValue {
  std::string key;
  std::string value;
};
Result<KeyValue> parse_key_value(std::string_view arg);

struct LinkAddSpec {
  std::string name;
  std::string kind;       // ethernet | broadband | cellular | wireguard
  std::string interface;
  std::optional<std::string> gateway;
  std::vector<std::string> targets;  // probe targets
  std::vector<KeyValue> settings;    // any other link keys: {"metered","true"}, {"probe.method","udp"}, {"quality.max_loss","5"}
};

struct PolicyAddSpec {
  std::string name;
  std::string mode = "failover";
  std::vector<PolicyMember> members;
  std::optional<std::string> last_resort;
};

struct RuleSpec {
  std::string name;
  std::vector<KeyValue> settings;  // {"source","192.168.50.0/24"}, {"policy","default"}, ...
};

// CLI values are converted by the schema: booleans "true/false/yes/no/on/off",
// lists "a,b,c", ports "80,443,8000-8100", members "wan1:TIER:WEIGHT,cell1:2",
// durations and strings as written ("timeout=auto" stays a string).
// table_path is {"daemon"}, {"links","wan1"}, {"links","wan1","probe"}, {"links","wan1","quality"}
// or {"policies","default"}; a dotted key ("probe.interval") extends it.
Result<std::string> set_value(std::string_view text, const std::string& path, const std::vector<std::string>& table_path,
                              const std::string& key, const std::string& value);
Result<std::string> unset_value(std::string_view text, const std::string& path,
                                const std::vector<std::string>& table_path, const std::string& key);

// Several keys of one table at once (`link set wan1 kind=ethernet` + unset apn):
// the edits are applied in order (sets, then unsets) and only the final text is
// validated, so an invalid intermediate state does not block a valid change.
Result<std::string> set_values(std::string_view text, const std::string& path,
                               const std::vector<std::string>& table_path, const std::vector<KeyValue>& set,
                               const std::vector<std::string>& unset = {});

Result<std::string> add_link(std::string_view text, const std::string& path, const LinkAddSpec& spec);
Result<std::string> remove_link(std::string_view text, const std::string& path, const std::string& name);
Result<std::string> set_link_enabled(std::string_view text, const std::string& path, const std::string& name,
                                     bool enabled);

// Removes a [table] with its keys, its sub-tables and the comments attached above its header.
Result<std::string> remove_table(std::string_view text, const std::string& path,
                                 const std::vector<std::string>& table_path);

Result<std::string> add_policy(std::string_view text, const std::string& path, const PolicyAddSpec& spec);
Result<std::string> remove_policy(std::string_view text, const std::string& path, const std::string& name);
Result<std::string> set_policy_members(std::string_view text, const std::string& path, const std::string& policy,
                                       const std::vector<PolicyMember>& members);

// Inserted before `before_rule` if given, else before the catch-all rule if
// there is one (a rule after it could never match), else at the end.
Result<std::string> add_rule(std::string_view text, const std::string& path, const RuleSpec& spec,
                             const std::optional<std::string>& before_rule = std::nullopt);
Result<std::string> set_rule_value(std::string_view text, const std::string& path, const std::string& rule_name,
                                   const std::string& key, const std::string& value);
Result<std::string> unset_rule_value(std::string_view text, const std::string& path, const std::string& rule_name,
                                     const std::string& key);
// Like set_values, for one rule; a rename ("name=...") is applied last.
Result<std::string> set_rule_values(std::string_view text, const std::string& path, const std::string& rule_name,
                                    const std::vector<KeyValue>& set, const std::vector<std::string>& unset = {});
Result<std::string> remove_rule(std::string_view text, const std::string& path, const std::string& rule_name);

}  // namespace uplink
