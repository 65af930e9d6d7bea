#include "score.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "detector.h"

namespace uplink::anomaly {

void append_score(std::string& out, double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", std::floor(s * 1e6) / 1e6);
  out += buf;
}

bool score_csv(std::string_view text, const Params& p, std::string& out, CsvError& err) {
  // One pass; the output is built aside and handed over only when the whole
  // input was valid, so on error `out` is untouched.
  Detector det(p);
  CsvReader r(text);
  Row row;
  std::string buf = "timestamp,value,anomaly_score,label\n";
  while (r.next(row)) {
    const auto res = det.update(row.ts, row.value);
    buf.append(row.ts_text);
    buf += ',';
    buf.append(row.value_text);
    buf += ',';
    append_score(buf, res.score);
    buf += res.score >= p.threshold ? ",1\n" : ",0\n";
  }
  if (!r.ok()) {
    err = r.error();
    return false;
  }
  out = std::move(buf);
  return true;
}

}  // namespace uplink::anomaly
