// libFuzzer entry point (like systemd's fuzz-*.c). Any input may be rejected,
// but parse_config only ever with a ConfigError, and the editor only with an
// Error value; an edit it accepts must produce a loadable configuration.
// Anything else escaping, a crash or an abort is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/editor.h"
#include "config/loader.h"

namespace {

void must_load(const uplink::Result<std::string>& r) {
  if (!r.ok()) return;
  try {
    (void)uplink::parse_config(r.value(), "fuzz.toml");
  } catch (const uplink::ConfigError&) {
    std::abort();  // the editor accepted an edit that does not validate
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)uplink::parse_config(text, "fuzz.toml");
  } catch (const uplink::ConfigError&) {
  }
  using namespace uplink;
  const std::string p = "fuzz.toml";
  must_load(set_value(text, p, {"links", "wan1"}, "probe.interval", "2s"));
  must_load(set_value(text, p, {"daemon"}, "log_level", "debug"));
  must_load(set_link_enabled(text, p, "wan1", false));
  must_load(unset_value(text, p, {"links", "wan1"}, "gateway"));
  must_load(remove_link(text, p, "wan1"));
  must_load(add_link(text, p, {"fz", "ethernet", "fz0", std::nullopt, {"192.0.2.1"}, {}}));
  must_load(add_rule(text, p, {"fz", {{"source", "10.9.0.0/16"}, {"policy", "default"}}}));
  must_load(remove_rule(text, p, "lan"));
  return 0;
}
