#pragma once
// toml++ helpers shared by the loader, the section context and the editor. Internal to src/config.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/toml.h"

namespace uplink {

// "a string", "an integer", ... for "expected X, got Y" messages.
std::string type_name(const toml::node& n);

// One value, checked: the value or the message ("expected a string, got an
// integer", "must be at most 9000, got 9001", ...). The loader (which fails
// and unwinds) and SectionContext (which reports and returns nullopt) both read
// through these, so a core key and a module key say the same thing.
Result<std::string> read_string(const toml::node& n);  // no NUL: every string ends up in a C API
Result<bool> read_bool(const toml::node& n);
Result<int64_t> read_int(const toml::node& n, int64_t lo = std::numeric_limits<int64_t>::min(),
                         int64_t hi = std::numeric_limits<int64_t>::max());
Result<double> read_number(const toml::node& n);  // an integer or a finite float
Result<Duration> read_duration(const toml::node& n, bool allow_zero = false);
Result<uint64_t> read_size(const toml::node& n);

bool earlier(const toml::source_position& a, const toml::source_position& b);

struct Entry {
  const toml::key* key;
  const toml::node* node;
};

// toml++ keeps a table's keys sorted by name; messages and link order follow the file.
std::vector<Entry> in_file_order(const toml::table& t);

// The key object of `name` in `t` (its source is where the name is written), or nullptr.
const toml::key* key_of(const toml::table& t, std::string_view name);

// A TOML syntax error turned into a message that says where it is: the key on
// the failing line and the [table] it belongs to, e.g.
// "links.wan1.probe.interval: syntax error in [links.wan1.probe]: Error while parsing ...".
std::string describe_syntax_error(std::string_view text, const toml::parse_error& e);

}  // namespace uplink
