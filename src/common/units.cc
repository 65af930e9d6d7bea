#include "common/units.h"

#include <cmath>
#include <cstdlib>
#include <utility>

namespace uplink {

namespace {

// Splits "1.5ms" into 1.5 and "ms". Rejects signs, empty numbers, exponents.
bool split_number(std::string_view text, double& number, std::string_view& unit) {
  size_t i = 0;
  bool digits = false, dot = false;
  while (i < text.size()) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    ++i;
  }
  if (!digits) return false;
  std::string num(text.substr(0, i));
  char* end = nullptr;
  number = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(number)) return false;
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return true;
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  double n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) {
    return make_error("invalid duration '" + std::string(text) + "': expected a number with a unit, e.g. \"100ms\"");
  }
  static const std::pair<std::string_view, double> units[] = {
      {"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9}};
  for (const auto& [name, scale] : units) {
    if (unit == name) {
      double ns = n * scale;
      if (ns > 9.0e18) return make_error("duration '" + std::string(text) + "' is too large");
      return Duration(static_cast<int64_t>(std::llround(ns)));
    }
  }
  if (unit.empty()) {
    return make_error("invalid duration '" + std::string(text) + "': missing unit (ns, us, ms, s, m, h, d)");
  }
  return make_error("invalid duration '" + std::string(text) + "': unknown unit '" + std::string(unit) +
                    "' (ns, us, ms, s, m, h, d)");
}

std::string format_duration(Duration d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  static const std::pair<const char*, int64_t> units[] = {{"d", 86400'000'000'000LL}, {"h", 3600'000'000'000LL},
                                                          {"m", 60'000'000'000LL},   {"s", 1'000'000'000LL},
                                                          {"ms", 1'000'000LL},       {"us", 1'000LL}};
  for (const auto& [name, scale] : units) {
    if (ns % scale == 0) return std::to_string(ns / scale) + name;
  }
  return std::to_string(ns) + "ns";
}

Result<uint64_t> parse_size(std::string_view text) {
  double n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) {
    return make_error("invalid size '" + std::string(text) + "': expected a number with a unit, e.g. \"256MiB\"");
  }
  static const std::pair<std::string_view, double> units[] = {
      {"B", 1.0},         {"kB", 1e3},          {"KB", 1e3},          {"MB", 1e6},   {"GB", 1e9}, {"TB", 1e12},
      {"KiB", 1024.0},    {"MiB", 1048576.0},   {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
  for (const auto& [name, scale] : units) {
    if (unit == name) {
      double b = std::round(n * scale);
      // 2^64 itself is not representable; llround would overflow above 2^63.
      if (b >= 18446744073709551616.0) return make_error("size '" + std::string(text) + "' is too large");
      return static_cast<uint64_t>(b);
    }
  }
  if (unit.empty()) return make_error("invalid size '" + std::string(text) + "': missing unit (B, kB, MB, GB, KiB, MiB, GiB)");
  return make_error("invalid size '" + std::string(text) + "': unknown unit '" + std::string(unit) +
                    "' (B, kB, MB, GB, KiB, MiB, GiB)");
}

std::string format_size(uint64_t bytes) {
  static const std::pair<const char*, uint64_t> units[] = {
      {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}, {"GB", 1000000000ULL}, {"MB", 1000000ULL}, {"kB", 1000ULL}};
  if (bytes == 0) return "0B";
  for (const auto& [name, scale] : units) {
    if (bytes % scale == 0) return std::to_string(bytes / scale) + name;
  }
  return std::to_string(bytes) + "B";
}

double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace uplink
