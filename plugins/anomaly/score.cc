#include "score.h"

#include <cmath>
#include <cstdio>

#include "detector.h"

namespace uplink::anomaly {

void append_score(std::string& out, double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", std::floor(s * 1e6) / 1e6);
  out += buf;
}

bool score_csv(std::string_view text, const Params& p, std::string& out, CsvError& err) {
  {
    CsvReader check(text);
    Row row;
    while (check.next(row)) {
    }
    if (!check.ok()) {
      err = check.error();
      return false;
    }
  }
  Detector det(p);
  CsvReader r(text);
  Row row;
  out = "timestamp,value,anomaly_score,label\n";
  while (r.next(row)) {
    const auto res = det.update(row.ts, row.value);
    out.append(row.ts_text);
    out += ',';
    out.append(row.value_text);
    out += ',';
    append_score(out, res.score);
    out += res.score >= p.threshold ? ",1\n" : ",0\n";
  }
  return true;
}

}  // namespace uplink::anomaly
