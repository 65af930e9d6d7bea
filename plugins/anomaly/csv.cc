#include "csv.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace uplink::anomaly {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string quoted(std::string_view s) {
  if (s.size() > 40) return "'" + std::string(s.substr(0, 40)) + "...'";
  return "'" + std::string(s) + "'";
}

}  // namespace

bool parse_timestamp(std::string_view s, int64_t& micros) {
  int y, mo, d, h, mi, se;
  if (s.size() < 19 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || s[10] != ' ' || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) ||
      s[16] != ':' || !digits(s, 17, 2, se))
    return false;
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || se > 59) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return false;
  int64_t frac = 0;
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() == 20 || s.size() > 26) return false;
    int64_t scale = 100000;
    for (size_t i = 20; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      frac += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  const int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  micros = ((days * 24 + h) * 60 + mi) * 60 + se;
  micros = micros * 1000000 + frac;
  return true;
}

bool CsvReader::next(Row& row) {
  if (!ok()) return false;
  while (pos_ < text_.size()) {
    size_t nl = text_.find('\n', pos_);
    std::string_view line = text_.substr(pos_, nl == std::string_view::npos ? std::string_view::npos : nl - pos_);
    pos_ = nl == std::string_view::npos ? text_.size() : nl + 1;
    ++line_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!header_done_) {
      if (line_ == 1 && line.size() >= 3 && static_cast<unsigned char>(line[0]) == 0xEF &&
          static_cast<unsigned char>(line[1]) == 0xBB && static_cast<unsigned char>(line[2]) == 0xBF)
        line.remove_prefix(3);  // UTF-8 byte-order mark
      if (trim(line) != "timestamp,value")
        return fail(line_, "expected header 'timestamp,value', got " + quoted(line));
      header_done_ = true;
      continue;
    }
    if (trim(line).empty()) {
      if (blank_line_ == 0) blank_line_ = line_;
      continue;
    }
    if (blank_line_ != 0) return fail(blank_line_, "empty line before the end of the data");
    size_t comma = line.find(',');
    if (comma == std::string_view::npos) return fail(line_, "expected 'timestamp,value', got " + quoted(line));
    std::string_view ts = trim(line.substr(0, comma));
    std::string_view val = trim(line.substr(comma + 1));
    if (val.find(',') != std::string_view::npos) return fail(line_, "too many fields in " + quoted(line));
    int64_t t = 0;
    if (!parse_timestamp(ts, t)) return fail(line_, "bad timestamp " + quoted(ts) + " (want YYYY-MM-DD HH:MM:SS)");
    double v = 0;
    {
      const char* b = val.data();
      const char* e = b + val.size();
      if (b != e && *b == '+') ++b;
      auto [ptr, ec] = std::from_chars(b, e, v);
      if (val.empty() || ec != std::errc() || ptr != e || !std::isfinite(v))
        return fail(line_, "bad value " + quoted(val) + " (want a finite number)");
    }
    if (rows_ > 0 && t < prev_ts_)
      return fail(line_, "timestamp " + quoted(ts) + " is earlier than the previous row's");
    prev_ts_ = t;
    ++rows_;
    row.ts_text = ts;
    row.value_text = val;
    row.ts = t;
    row.value = v;
    return true;
  }
  if (!header_done_) return fail(line_ == 0 ? 1 : line_, "empty file (expected header 'timestamp,value')");
  if (rows_ == 0) return fail(line_ + 1, "no data rows after the header");
  return false;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return !in.bad();
}

bool read_series_file(const std::string& path, Series& out, std::string& err_text) {
  std::string text;
  if (!read_file(path, text)) {
    err_text = path + ": cannot read file";
    return false;
  }
  out = {};
  CsvReader r(text);
  Row row;
  while (r.next(row)) {
    out.ts.push_back(row.ts);
    out.value.push_back(row.value);
  }
  if (!r.ok()) {
    err_text = path + ":" + std::to_string(r.error().line) + ": " + r.error().message;
    return false;
  }
  return true;
}

}  // namespace uplink::anomaly
