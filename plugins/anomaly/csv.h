#pragma once
// NAB CSV: header "timestamp,value", then "YYYY-MM-DD HH:MM:SS[.ffffff],number"
// rows in time order. Errors carry the 1-based line number.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace uplink::anomaly {

// Microseconds since 1970-01-01 00:00:00 (no time zone). Returns false when
// the text is not a valid "YYYY-MM-DD HH:MM:SS[.f...]" time.
bool parse_timestamp(std::string_view s, int64_t& micros);

struct CsvError {
  int line = 0;
  std::string message;
};

struct Row {
  std::string_view ts_text;     // as written in the file
  std::string_view value_text;  // as written in the file
  int64_t ts = 0;               // microseconds
  double value = 0;
};

// Incremental reader over text already in memory (the views in Row point
// into it). Usage: CsvReader r(text); Row row; while (r.next(row)) ...; then
// r.ok() tells whether the input ended cleanly (else r.error()).
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : text_(text) {}
  bool next(Row& row);
  bool ok() const { return err_.message.empty(); }
  const CsvError& error() const { return err_; }
  int rows() const { return rows_; }

 private:
  bool fail(int line, std::string msg) {
    err_ = {line, std::move(msg)};
    return false;
  }
  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 0;
  int rows_ = 0;
  bool header_done_ = false;
  int blank_line_ = 0;  // first blank line seen (only allowed at the end)
  int64_t prev_ts_ = 0;
  CsvError err_;
};

struct Series {
  std::vector<int64_t> ts;
  std::vector<double> value;
};

// Reads a whole file. On error `err_text` is "FILE:LINE: message".
bool read_series_file(const std::string& path, Series& out, std::string& err_text);
// Reads a file's bytes; false if it cannot be read.
bool read_file(const std::string& path, std::string& out);

}  // namespace uplink::anomaly
