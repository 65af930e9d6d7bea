#pragma once
// Spelling values as TOML text, for the writer and for modules' SectionValue::to_toml.
// No toml++ here: part of the config types library.
#include <string>
#include <string_view>
#include <vector>

namespace uplink {

// TOML basic string with escapes: toml_quote("a\"b") == "\"a\\\"b\"".
std::string toml_quote(std::string_view s);
// Shortest form that reads back to the same double; always a TOML float ("5.0", "0.7").
std::string toml_float(double v);
// A key as TOML needs it: bare when possible, quoted otherwise.
std::string toml_key(std::string_view k);
// ["a", "b"]
std::string toml_string_array(const std::vector<std::string>& items);

}  // namespace uplink
