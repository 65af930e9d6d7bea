#pragma once
// Test helpers for module configuration sections: a registry holding only
// what one module registers, and parsing a text with it.
//
//   const SectionRegistry& reg = testing::registry_with<register_uplink_config>();
//   Config c = parse_config(text, "t.toml", reg);                  // throws ConfigError
//   std::string e = testing::parse_error(text, "t.toml", reg).value_or("");
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/loader.h"
#include "config/section.h"

namespace uplink::testing {

// The registry filled by `Register` (void(SectionRegistry&)), built once per function.
template <auto Register>
const SectionRegistry& registry_with() {
  static const SectionRegistry registry = [] {
    SectionRegistry r;
    Register(r);
    return r;
  }();
  return registry;
}

// The message of the ConfigError that parsing `text` throws; nullopt when it parses.
inline std::optional<std::string> parse_error(std::string_view text, const std::string& path,
                                              const SectionRegistry& registry) {
  try {
    parse_config(text, path, registry);
  } catch (const ConfigError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

}  // namespace uplink::testing
