#pragma once
// TOML text -> validated Config. Every problem is a ConfigError naming
// FILE:LINE:COL (1-based, at the offending key or value) and the key by its
// full dotted path: "links.wan1.probe.interval: invalid duration '10 parsecs': ...".
// Exceptions are used here, and only here (loading configuration).
#include <string>
#include <string_view>

#include "config/config.h"

namespace uplink {

// Parses and validates `text`; `path` is used in messages and stored in Config::path.
// Fills every default and assigns the automatic table ids and fwmarks.
Config parse_config(std::string_view text, const std::string& path);

// Reads `path` and parses it. An unreadable file is ConfigError(path, 0, 0, "cannot read: <reason>").
Config load_config_file(const std::string& path);

// Reads a whole file; false with errno set on failure. Shared with the editor.
bool read_text_file(const std::string& path, std::string& out);

}  // namespace uplink
