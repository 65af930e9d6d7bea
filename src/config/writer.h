#pragma once
// Config -> TOML: the effective configuration (defaults and automatic table
// ids / fwmarks spelled out), readable by parse_config() into an equal Config.
// Used by `uplinkctl config show`.
#include <string>
#include <string_view>

#include "config/config.h"

namespace uplink {

std::string to_toml(const Config& c);

// TOML basic string with escapes: toml_quote("a\"b") == "\"a\\\"b\"".
std::string toml_quote(std::string_view s);
// Shortest form that reads back to the same double; always a TOML float ("5.0", "0.7").
std::string toml_float(double v);
// A key as TOML needs it: bare when possible, quoted otherwise.
std::string toml_key(std::string_view k);

}  // namespace uplink
