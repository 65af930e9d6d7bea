#pragma once
// TOML text -> validated Config. Every problem the file has is reported in
// one ConfigError (sorted by position, at most 50), each as FILE:LINE:COL
// (1-based, at the offending key or value) with the key's full dotted path:
// "links.wan1.probe.interval: invalid duration '10 parsecs': ...".
// Exceptions are used here, and only here (loading configuration).
//
// Sections and link-kind keys owned by modules are parsed by the parsers
// registered in a SectionRegistry (config/section.h); SectionRegistry::global()
// unless another is given.
#include <string>
#include <string_view>

#include "config/config.h"

namespace uplink {

class SectionRegistry;

// Parses and validates `text`; `path` is used in messages and stored in Config::path.
// Fills every default and assigns the automatic table ids and fwmarks.
Config parse_config(std::string_view text, const std::string& path);
Config parse_config(std::string_view text, const std::string& path, const SectionRegistry& registry);

// Reads `path` and parses it. An unreadable file is a ConfigError without a
// position: "PATH: cannot read: <reason>" (line() == 0).
Config load_config_file(const std::string& path);
Config load_config_file(const std::string& path, const SectionRegistry& registry);

// Reads a whole file; false with errno set on failure. Shared with the editor.
bool read_text_file(const std::string& path, std::string& out);

}  // namespace uplink
