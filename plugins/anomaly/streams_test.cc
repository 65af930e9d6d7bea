#include "streams.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

namespace uplink::anomaly {
namespace {

constexpr double kT0 = 1388534400;  // 2014-01-01, seconds

double pattern(int i) { return 50 + 20 * std::sin(2 * 3.14159265358979 * i / 288.0) + 0.3 * ((i * 7919) % 11) / 11.0; }

TEST(StreamSet, OneAlarmPerIncidentPerStreamWithContext) {
  StreamSet::Options o;
  o.cooldown_s = 6 * 3600;
  StreamSet set(o);
  std::vector<std::pair<std::string, nlohmann::json>> got;
  // Alarms of the first two days (learning the daily cycle) are not checked.
  const auto sink = [&](std::string_view s, const std::string& payload) {
    auto j = nlohmann::json::parse(payload);
    if (j["ts"].get<double>() >= kT0 + 600 * 300.0) got.emplace_back(std::string(s), std::move(j));
  };
  for (int i = 0; i < 3000; ++i) {
    const double ts = kT0 + i * 300.0;
    double a = pattern(i), b = pattern(i + 100);
    if (i == 2500 || i == 2520) a += 80;  // two spikes 100 minutes apart: one incident
    set.on_sample("pump-a", ts, a, sink);
    set.on_sample("pump-b", ts, b, sink);
  }
  EXPECT_EQ(set.streams(), 2u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "pump-a");
  const auto& j = got[0].second;
  EXPECT_EQ(j["stream"], "pump-a");
  EXPECT_DOUBLE_EQ(j["ts"].get<double>(), kT0 + 2500 * 300.0);
  EXPECT_GE(j["score"].get<double>(), o.params.threshold);
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), pattern(2500) + 80);
  ASSERT_EQ(j["context"].size(), 16u);
  EXPECT_DOUBLE_EQ(j["context"][15][1].get<double>(), pattern(2500) + 80);  // newest last
  EXPECT_GE(set.counters().alarms, 1u);
  EXPECT_EQ(set.counters().samples, 6000u);
}

TEST(StreamSet, BoundsTheNumberOfStreams) {
  StreamSet::Options o;
  o.max_streams = 2;
  StreamSet set(o);
  const auto sink = [](std::string_view, const std::string&) {};
  set.on_sample("a", kT0, 1, sink);
  set.on_sample("b", kT0, 1, sink);
  set.on_sample("c", kT0, 1, sink);
  set.on_sample("a", kT0 + 1, 1, sink);
  EXPECT_EQ(set.streams(), 2u);
  EXPECT_EQ(set.counters().dropped_streams, 1u);
  const auto st = nlohmann::json::parse(set.state_json(false));
  EXPECT_EQ(st["online"], false);
  EXPECT_EQ(st["streams"], 2);
}

}  // namespace
}  // namespace uplink::anomaly
