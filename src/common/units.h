#pragma once
// Durations ("100ms", "2s", "10m", "1.5s") and sizes ("256MiB", "10kB"):
// the only textual forms used in configuration and the CLI.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace uplink {

// Units: ns us ms s m h d. A bare number is an error (units are mandatory).
Result<Duration> parse_duration(std::string_view text);
// Shortest exact form: 1500ms -> "1500ms", 2000ms -> "2s", 600s -> "10m".
std::string format_duration(Duration d);

// Units: B, kB/MB/GB (10^3), KiB/MiB/GiB (2^10). A bare number is an error.
Result<uint64_t> parse_size(std::string_view text);
std::string format_size(uint64_t bytes);

double to_ms(Duration d);

}  // namespace uplink
