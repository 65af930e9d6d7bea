#pragma once
// The `uplink-anomaly score` contract as a function: NAB CSV in, CSV with
// timestamp,value,anomaly_score,label out (one row per input row).
#include <string>
#include <string_view>

#include "csv.h"
#include "model.h"

namespace uplink::anomaly {

// On invalid input nothing is written to `out` (it is left as it was) and
// `err` holds the line and message. Scores are printed rounded down to 6
// decimals; label is 1 when the score reaches p.threshold.
bool score_csv(std::string_view text, const Params& p, std::string& out, CsvError& err);

// Appends a score rounded down to 6 decimals.
void append_score(std::string& out, double score);

}  // namespace uplink::anomaly
