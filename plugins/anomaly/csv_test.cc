// The NAB CSV reader and the `score` output contract.
#include <gtest/gtest.h>

#include <sstream>

#include "csv.h"
#include "score.h"

namespace uplink::anomaly {
namespace {

CsvError read_err(const std::string& text) {
  CsvReader r(text);
  Row row;
  while (r.next(row)) {
  }
  EXPECT_FALSE(r.ok()) << text;
  return r.error();
}

TEST(Timestamp, Parses) {
  int64_t t = 0;
  ASSERT_TRUE(parse_timestamp("1970-01-01 00:00:00", t));
  EXPECT_EQ(t, 0);
  ASSERT_TRUE(parse_timestamp("2014-04-10 07:15:00", t));
  EXPECT_EQ(t, int64_t{1397114100} * 1000000);
  ASSERT_TRUE(parse_timestamp("2014-04-10 07:15:00.000000", t));
  EXPECT_EQ(t, int64_t{1397114100} * 1000000);
  ASSERT_TRUE(parse_timestamp("2016-02-29 23:59:59.5", t));
  EXPECT_EQ(t % 1000000, 500000);
  for (const char* bad : {"", "2014-04-10", "2014-04-10T07:15:00", "2014-13-01 00:00:00", "2015-02-29 00:00:00",
                          "2014-04-10 24:00:00", "2014-04-10 07:15:0x", "2014-04-10 07:15:00.", "14-04-10 07:15:00"})
    EXPECT_FALSE(parse_timestamp(bad, t)) << bad;
}

TEST(Csv, ReadsRowsKeepingTheirText) {
  const std::string text = "timestamp,value\r\n2014-04-01 00:00:00,1.5\r\n2014-04-01 00:05:00,-2e3\n2014-04-01 00:05:00,7";
  CsvReader r(text);
  Row row;
  ASSERT_TRUE(r.next(row));
  EXPECT_EQ(row.ts_text, "2014-04-01 00:00:00");
  EXPECT_EQ(row.value_text, "1.5");
  EXPECT_DOUBLE_EQ(row.value, 1.5);
  ASSERT_TRUE(r.next(row));
  EXPECT_DOUBLE_EQ(row.value, -2000);
  ASSERT_TRUE(r.next(row));  // equal timestamps are not out of order; no final newline
  EXPECT_EQ(row.value_text, "7");
  EXPECT_FALSE(r.next(row));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.rows(), 3);
}

TEST(Csv, TrailingBlankLinesAreFine) {
  CsvReader r("timestamp,value\n2014-04-01 00:00:00,1\n\n\n");
  Row row;
  EXPECT_TRUE(r.next(row));
  EXPECT_FALSE(r.next(row));
  EXPECT_TRUE(r.ok());
}

TEST(Csv, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    int line;
    const char* message;  // a part of the message ("": any)
  };
  const Case cases[] = {
      {"", 1, "empty file"},
      {"2014-04-01 00:00:00,1\n", 1, "expected header"},
      {"timestamp,value\n", 2, "no data rows"},
      {"timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n", 3, "bad value 'abc'"},
      {"timestamp,value\n2014-04-01 00:00:00,nan\n", 2, "bad value"},
      {"timestamp,value\n2014-04-01 00:00:00,\n", 2, ""},
      {"timestamp,value\n2014-04-01 00:00:00,1\n2014/04/01 00:05:00,2\n", 3, "bad timestamp"},
      {"timestamp,value\n2014-04-01 00:10:00,1\n2014-04-01 00:05:00,2\n", 3, "earlier than the previous"},
      {"timestamp,value\n2014-04-01 00:00:00\n", 2, ""},
      {"timestamp,value\n2014-04-01 00:00:00,1,2\n", 2, "too many fields"},
      {"timestamp,value\n2014-04-01 00:00:00,1\n\n2014-04-01 00:10:00,1\n", 3, "empty line"},
  };
  for (const auto& c : cases) {
    const auto e = read_err(c.text);
    EXPECT_EQ(e.line, c.line) << c.text;
    EXPECT_NE(e.message.find(c.message), std::string::npos) << c.text << " -> " << e.message;
  }
}

std::string series(int n, int spike_at = -1) {
  std::ostringstream o;
  o << "timestamp,value\n";
  for (int i = 0; i < n; ++i) {
    const int64_t t = 1388534400 + int64_t{i} * 300;
    const int64_t d = t / 86400, s = t % 86400;
    char ts[32];
    // 2014-01-01 + d days (January only is enough for n <= 8928).
    std::snprintf(ts, sizeof ts, "2014-01-%02d %02d:%02d:%02d", static_cast<int>(d - 16071 + 1),
                  static_cast<int>(s / 3600), static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
    const double v = 10 + (i % 7) * 0.5 + (i == spike_at ? 50 : 0);
    o << ts << "," << v << "\n";
  }
  return o.str();
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(ScoreCsv, OneRowPerInputRowWithHeaderAndLabels) {
  const std::string in = series(600, 500);
  std::string out;
  CsvError err;
  ASSERT_TRUE(score_csv(in, Params{}, out, err)) << err.line << ": " << err.message;
  const auto rows = lines(out);
  ASSERT_EQ(rows.size(), 601u);
  EXPECT_EQ(rows[0], "timestamp,value,anomaly_score,label");
  EXPECT_EQ(rows[1].rfind("2014-01-01 00:00:00,10,", 0), 0u) << rows[1];
  int alarms = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto c = rows[i].rfind(',');
    const auto b = rows[i].rfind(',', c - 1);
    const double score = std::stod(rows[i].substr(b + 1, c - b - 1));
    const int label = std::stoi(rows[i].substr(c + 1));
    EXPECT_GE(score, 0.0);
    EXPECT_LE(score, 1.0);
    EXPECT_EQ(label, score >= Params{}.threshold ? 1 : 0) << rows[i];  // label = printed score >= threshold
    alarms += label;
  }
  EXPECT_EQ(rows[501].back(), '1') << rows[501];  // the spike (row 500 -> line 501)
  EXPECT_EQ(alarms, 1);
}

TEST(ScoreCsv, BadInputWritesNothing) {
  std::string out = "untouched";
  CsvError err;
  EXPECT_FALSE(score_csv("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,x\n", Params{}, out, err));
  EXPECT_EQ(err.line, 3);
  EXPECT_EQ(out, "untouched");
}

TEST(ScoreCsv, CausalAPrefixScoresTheSameAsTheFullFile) {
  const std::string full = series(1500, 1200);
  std::string out_full;
  CsvError err;
  ASSERT_TRUE(score_csv(full, Params{}, out_full, err));
  const auto full_rows = lines(out_full);
  for (int n : {1, 150, 151, 700, 1199, 1201}) {
    std::string prefix;
    size_t pos = 0;
    for (int i = 0; i <= n; ++i) pos = full.find('\n', pos) + 1;  // header + n rows
    prefix = full.substr(0, pos);
    std::string out;
    ASSERT_TRUE(score_csv(prefix, Params{}, out, err)) << n;
    const auto rows = lines(out);
    ASSERT_EQ(rows.size(), static_cast<size_t>(n) + 1);
    for (int i = 0; i <= n; ++i) ASSERT_EQ(rows[i], full_rows[i]) << "prefix " << n << " row " << i;
  }
}

TEST(ScoreCsv, ScoresPrintRoundedDown) {
  std::string s;
  append_score(s, 0.7499999);
  EXPECT_EQ(s, "0.749999");
  s.clear();
  append_score(s, 0.75);
  EXPECT_EQ(s, "0.750000");
  s.clear();
  append_score(s, 1.0);
  EXPECT_EQ(s, "1.000000");
}

}  // namespace
}  // namespace uplink::anomaly
