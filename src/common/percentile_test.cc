#include "common/percentile.h"

#include <gtest/gtest.h>

namespace uplink {
namespace {

TEST(Percentile, NearestRankOnTheSortedSample) {
  std::vector<double> v = {9, 1, 5, 3, 7};  // sorted: 1 3 5 7 9
  EXPECT_EQ(percentile(v, 0.5), 5);
  EXPECT_EQ(percentile(v, 0.95), 9);  // index round(3.8) = 4
  EXPECT_EQ(percentile(v, 0.6), 5);   // index round(2.4) = 2
  EXPECT_EQ(percentile(v, 0.65), 7);  // index round(2.6) = 3
  EXPECT_EQ(percentile(v, 0), 1);
  EXPECT_EQ(percentile(v, 1), 9);
  EXPECT_EQ(percentile({}, 0.5), 0);
}

}  // namespace
}  // namespace uplink
