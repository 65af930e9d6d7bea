// libFuzzer entry point for the NAB CSV reader (csv.h): a data file given to
// uplink-anomaly. Aborts (a bug) when:
//   - a row's text views point outside the input, its timestamp or value is
//     not what its own text says, or timestamps go backwards;
//   - rows() disagrees with the rows returned, or the reader goes on after
//     it stopped;
//   - an error has no message or a line number outside the input;
//   - a timestamp parse_timestamp accepts does not print back as the same
//     date and time (checked on the input's first field, so the fuzzer drives
//     the calendar arithmetic directly).
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "csv.h"

namespace {

using uplink::anomaly::CsvReader;
using uplink::anomaly::parse_timestamp;

void check(bool ok) {
  if (!ok) std::abort();
}

// "YYYY-MM-DD HH:MM:SS.ffffff" of microseconds since 1970 (H. Hinnant's
// civil_from_days: independent of the reader's days_from_civil).
std::string format_timestamp(int64_t micros) {
  int64_t secs = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  const int64_t frac = micros - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  const int64_t sod = secs - days * 86400;
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  char buf[160];  // room for seven 20-digit fields: GCC's -Wformat-truncation checks the worst case
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld", (long long)y, (long long)m,
                (long long)d, (long long)(sod / 3600), (long long)(sod / 60 % 60), (long long)(sod % 60),
                (long long)frac);
  return buf;
}

void check_timestamp(std::string_view s) {
  int64_t micros = 0;
  if (!parse_timestamp(s, micros)) return;
  const std::string printed = format_timestamp(micros);
  check(s.substr(0, 19) == std::string_view(printed).substr(0, 19));
  std::string digits(s.size() > 20 ? s.substr(20) : std::string_view());
  digits.resize(6, '0');
  check(digits == printed.substr(20));
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_timestamp(text.substr(0, text.find_first_of(",\n")));

  CsvReader reader(text);
  uplink::anomaly::Row row;
  int rows = 0;
  int64_t prev = 0;
  while (reader.next(row)) {
    ++rows;
    check(inside(row.ts_text, text) && inside(row.value_text, text));
    int64_t ts = 0;
    check(parse_timestamp(row.ts_text, ts) && ts == row.ts);
    check(rows == 1 || row.ts >= prev);
    prev = row.ts;
    std::string_view v = row.value_text;
    if (!v.empty() && v.front() == '+') v.remove_prefix(1);
    double value = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    check(ec == std::errc() && end == v.data() + v.size() && std::isfinite(row.value) && value == row.value);
  }
  check(reader.rows() == rows && !reader.next(row) && reader.rows() == rows);
  if (reader.ok()) {
    check(rows > 0);  // a clean end means a header and data
    return 0;
  }
  // Lines are counted from 1; "no data rows" names the line after the last.
  int lines = 1;
  for (char c : text) lines += c == '\n';
  check(!reader.error().message.empty() && reader.error().line >= 1 && reader.error().line <= lines + 1);
  return 0;
}
