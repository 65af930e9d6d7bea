// NAB scoring rules against small cases computed by hand.
//
// sigma(p) = 2 / (1 + exp(5 p)) - 1
//   sigma(-1)   = 2 / (1 + e^-5)   - 1 = 0.986614
//   sigma(-0.5) = 2 / (1 + e^-2.5) - 1 = 0.848284  -> / sigma(-1) = 0.859793
//   sigma(-0.1) = 2 / (1 + e^-0.5) - 1 = 0.244919  -> / sigma(-1) = 0.248242
//   sigma(1/3)  = 2 / (1 + e^1.6667) - 1 = -0.682262
#include <gtest/gtest.h>

#include <cmath>

#include "nab.h"

namespace uplink::anomaly::nab {
namespace {

const Profile kStd{"standard", 1.0, 0.11, 1.0};
const Profile kLowFp{"reward_low_FP_rate", 1.0, 0.22, 1.0};
const Profile kLowFn{"reward_low_FN_rate", 1.0, 0.11, 2.0};

// 100 rows: probation = floor(0.15 * 100) = 15 rows; one window, rows 40..49 (W = 10).
std::vector<uint8_t> rows_with(std::initializer_list<size_t> hits, size_t n = 100) {
  std::vector<uint8_t> d(n, 0);
  for (size_t i : hits) d[i] = 1;
  return d;
}
const std::vector<Window> kOne{{40, 49}};

TEST(NabScore, SigmoidAndProbation) {
  EXPECT_NEAR(scaled_sigmoid(-1.0), 0.9866143, 1e-6);
  EXPECT_NEAR(scaled_sigmoid(0.0), 0.0, 1e-12);
  EXPECT_EQ(scaled_sigmoid(3.5), -1.0);
  EXPECT_EQ(probation_rows(100), 15u);
  EXPECT_EQ(probation_rows(1127), 169u);   // floor(169.05)
  EXPECT_EQ(probation_rows(4032), 604u);   // floor(604.8)
  EXPECT_EQ(probation_rows(15902), 750u);  // capped
}

TEST(NabScore, DetectionAtWindowStartEarnsFullCredit) {
  // p = -(49 - 40 + 1) / 10 = -1 -> A_TP * sigma(-1) / sigma(-1) = 1.
  const auto s = score_file(rows_with({40}), kOne, kStd);
  EXPECT_NEAR(s.score, 1.0, 1e-12);
  EXPECT_EQ(s.tp, 1);
  EXPECT_EQ(s.fp, 0);
  EXPECT_EQ(s.fn, 0);
}

TEST(NabScore, OnlyTheEarliestDetectionInAWindowCounts) {
  // Row 45: p = -(49 - 45 + 1) / 10 = -0.5 -> 0.859793; rows 46, 49 add nothing.
  const auto s = score_file(rows_with({45, 46, 49}), kOne, kStd);
  EXPECT_NEAR(s.score, 0.8597926, 1e-6);
  EXPECT_EQ(s.tp, 1);
  EXPECT_EQ(s.fp, 0);
  // Last row of the window: p = -1/10 -> 0.248242.
  EXPECT_NEAR(score_file(rows_with({49}), kOne, kStd).score, 0.2482415, 1e-6);
}

TEST(NabScore, FalsePositivesWeightedByDistanceFromPreviousWindow) {
  // Row 20, before any window: -A_FP = -0.11.
  EXPECT_NEAR(score_file(rows_with({40, 20}), kOne, kStd).score, 1.0 - 0.11, 1e-12);
  // Row 52: q = (52 - 49) / (10 - 1) = 1/3 -> 0.11 * sigma(1/3) = -0.0750488.
  EXPECT_NEAR(score_file(rows_with({40, 52}), kOne, kStd).score, 1.0 - 0.0750488, 1e-6);
  // low-FP profile doubles the cost: 0.22 * -0.682262 = -0.150098.
  EXPECT_NEAR(score_file(rows_with({40, 52}), kOne, kLowFp).score, 1.0 - 0.1500976, 1e-6);
  // Row 79: q = 30 / 9 > 3 -> sigma = -1 -> -0.11.
  EXPECT_NEAR(score_file(rows_with({40, 79}), kOne, kStd).score, 1.0 - 0.11, 1e-12);
}

TEST(NabScore, MissedWindowsAndProbation) {
  // Detection in the probationary period (row 5) is not scored; the window is missed.
  auto s = score_file(rows_with({5}), kOne, kStd);
  EXPECT_NEAR(s.score, -1.0, 1e-12);
  EXPECT_EQ(s.fn, 1);
  EXPECT_EQ(s.fp, 0);
  EXPECT_NEAR(score_file(rows_with({}), kOne, kLowFn).score, -2.0, 1e-12);
  // No windows, no detections: 0.
  EXPECT_NEAR(score_file(rows_with({}), {}, kStd).score, 0.0, 1e-12);
}

TEST(NabScore, TwoWindows) {
  // Windows 30..39 and 60..69 (W = 10 each) in 100 rows.
  const std::vector<Window> w{{30, 39}, {60, 69}};
  // 30 -> +1; 44: q = (44 - 39) / 9 = 0.5556 -> 2/(1+e^2.7778) - 1 = -0.882926 -> *0.11 = -0.0971219;
  // second window missed -> -1. Total 1 - 0.0971219 - 1.
  const auto s = score_file(rows_with({30, 44}), w, kStd);
  EXPECT_NEAR(s.score, -0.0971219, 1e-6);
  EXPECT_EQ(s.tp, 1);
  EXPECT_EQ(s.fp, 1);
  EXPECT_EQ(s.fn, 1);
}

TEST(NabScore, Normalised) {
  // null = -A_FN per window, perfect = A_TP per window.
  EXPECT_NEAR(normalised(-4.0, 4, kStd), 0.0, 1e-12);
  EXPECT_NEAR(normalised(4.0, 4, kStd), 100.0, 1e-12);
  EXPECT_NEAR(normalised(0.0, 4, kStd), 50.0, 1e-12);
  // low-FN: null = -8, perfect = 4 -> (0 + 8) / 12.
  EXPECT_NEAR(normalised(0.0, 4, kLowFn), 100.0 * 8 / 12, 1e-9);
}

TEST(NabLabels, ParseAndMapWindows) {
  WindowLabels labels;
  std::string err;
  ASSERT_TRUE(parse_windows(R"({"a/x.csv": [["2014-01-01 00:10:00.000000", "2014-01-01 00:20:00.000000"]],
                               "b/y.csv": []})",
                            labels, err))
      << err;
  ASSERT_EQ(labels.size(), 2u);
  ASSERT_EQ(labels["a/x.csv"].size(), 1u);
  EXPECT_TRUE(labels["b/y.csv"].empty());
  std::vector<int64_t> ts;
  for (int i = 0; i < 10; ++i) ts.push_back(int64_t{1388534400} * 1000000 + int64_t{i} * 300 * 1000000);
  std::vector<Window> rows;
  ASSERT_TRUE(windows_to_rows(labels["a/x.csv"], ts, rows, err)) << err;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].first, 2u);
  EXPECT_EQ(rows[0].last, 4u);
  // A timestamp that is not a row is an error.
  EXPECT_FALSE(windows_to_rows({{"2014-01-01 00:11:00", "2014-01-01 00:20:00"}}, ts, rows, err));
  EXPECT_NE(err.find("not a row"), std::string::npos);
  EXPECT_FALSE(parse_windows("[1, 2]", labels, err));
  EXPECT_FALSE(parse_windows(R"({"a": [["x"]]})", labels, err));
}

}  // namespace
}  // namespace uplink::anomaly::nab
