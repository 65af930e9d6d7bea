// libFuzzer entry point (like systemd's fuzz-*.c). Any input may be rejected,
// but parse_config only ever with a ConfigError, and the editor only with an
// Error value; an edit it accepts must produce a loadable configuration, and a
// configuration that loads must read back equal from what the writer makes of
// it. Anything else escaping, a crash or an abort is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "config/editor.h"
#include "config/loader.h"
#include "config/writer.h"

namespace {

void must_load(const uplink::Result<std::string>& r) {
  if (!r.ok()) return;
  try {
    (void)uplink::parse_config(r.value(), "fuzz.toml");
  } catch (const uplink::ConfigError&) {
    std::abort();  // the editor accepted an edit that does not validate
  }
}

// The writer's text (secrets unmasked) must load to an equal Config.
void must_read_back(const uplink::Config& c) {
  const std::string written = uplink::to_toml(c, /*mask_secrets=*/false);
  try {
    if (!(uplink::parse_config(written, c.path) == c)) std::abort();
  } catch (const uplink::ConfigError&) {
    std::abort();  // the writer wrote what the loader refuses
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const uplink::Config c = uplink::parse_config(text, "fuzz.toml");
    must_read_back(c);
  } catch (const uplink::ConfigError&) {
  }
  // Two of the editor's operations per input, picked by a hash of it (the
  // same input always takes the same two): each one parses the document
  // twice, and all eight made a run four times slower for little coverage
  // the fuzzer does not reach anyway by mutating the input.
  using namespace uplink;
  const std::string p = "fuzz.toml";
  const std::function<Result<std::string>()> edits[] = {
      [&] { return set_value(text, p, {"links", "wan1"}, "probe.interval", "2s"); },
      [&] { return set_value(text, p, {"daemon"}, "log_level", "debug"); },
      [&] { return set_link_enabled(text, p, "wan1", false); },
      [&] { return unset_value(text, p, {"links", "wan1"}, "gateway"); },
      [&] { return remove_link(text, p, "wan1"); },
      [&] { return add_link(text, p, {"fz", "ethernet", "fz0", std::nullopt, {"192.0.2.1"}, {}}); },
      [&] { return add_rule(text, p, {"fz", {{"source", "10.9.0.0/16"}, {"policy", "default"}}}); },
      [&] { return remove_rule(text, p, "lan"); },
  };
  constexpr size_t kEdits = sizeof edits / sizeof *edits;
  const size_t h = std::hash<std::string_view>{}(text);
  const size_t first = h % kEdits, second = (first + 1 + (h / kEdits) % (kEdits - 1)) % kEdits;
  must_load(edits[first]());
  must_load(edits[second]());
  return 0;
}
