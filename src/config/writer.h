#pragma once
// Config -> TOML: the effective configuration (defaults and automatic table
// ids / fwmarks spelled out), readable by parse_config() into an equal Config.
// Used by `uplinkctl config show`.
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/toml_text.h"  // toml_quote, toml_float, toml_key

namespace uplink {

// Module sections and link extensions are written by their SectionValue::to_toml;
// secrets as "***" unless mask_secrets is false (then the text reads back to an equal Config).
std::string to_toml(const Config& c, bool mask_secrets = true);

}  // namespace uplink
