#include "common/units.h"

#include <gtest/gtest.h>

namespace uplink {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, Units) {
  EXPECT_EQ(*parse_duration("100ms"), Duration(100ms));
  EXPECT_EQ(*parse_duration("2s"), Duration(2s));
  EXPECT_EQ(*parse_duration("10m"), Duration(10min));
  EXPECT_EQ(*parse_duration("3h"), Duration(3h));
  EXPECT_EQ(*parse_duration("1d"), Duration(24h));
  EXPECT_EQ(*parse_duration("250us"), Duration(250us));
  EXPECT_EQ(*parse_duration("7ns"), Duration(7ns));
  EXPECT_EQ(*parse_duration("0s"), Duration::zero());
}

TEST(ParseDuration, Fractions) {
  EXPECT_EQ(*parse_duration("1.5s"), Duration(1500ms));
  EXPECT_EQ(*parse_duration("0.25ms"), Duration(250us));
  EXPECT_EQ(*parse_duration(".5s"), Duration(500ms));
  EXPECT_EQ(*parse_duration("2.5m"), Duration(150s));
}

TEST(ParseDuration, SpaceBeforeUnitIsAccepted) { EXPECT_EQ(*parse_duration("5 s"), Duration(5s)); }

TEST(ParseDuration, MissingUnit) {
  auto r = parse_duration("10");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "invalid duration '10': missing unit (ns, us, ms, s, m, h, d)");
}

TEST(ParseDuration, UnknownUnit) {
  auto r = parse_duration("10 parsecs");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "invalid duration '10 parsecs': unknown unit 'parsecs' (ns, us, ms, s, m, h, d)");
  EXPECT_EQ(parse_duration("1S").error().message, "invalid duration '1S': unknown unit 'S' (ns, us, ms, s, m, h, d)");
  EXPECT_FALSE(parse_duration("1e3s").ok());  // no exponents
  EXPECT_FALSE(parse_duration("1.5.5s").ok());
}

TEST(ParseDuration, NegativeAndEmptyAreRejected) {
  EXPECT_EQ(parse_duration("-1s").error().message,
            "invalid duration '-1s': expected a number with a unit, e.g. \"100ms\"");
  EXPECT_FALSE(parse_duration("+1s").ok());
  EXPECT_FALSE(parse_duration("").ok());
  EXPECT_FALSE(parse_duration("s").ok());
  EXPECT_FALSE(parse_duration(" 1s").ok());
}

TEST(ParseDuration, Huge) {
  EXPECT_EQ(parse_duration("200000d").error().message, "duration '200000d' is too large");
  EXPECT_EQ(parse_duration("99999999999999999999999s").error().message,
            "duration '99999999999999999999999s' is too large");
  EXPECT_TRUE(parse_duration("100000d").ok());  // ~274 years still fits in int64 nanoseconds
}

TEST(FormatDuration, ShortestExactForm) {
  EXPECT_EQ(format_duration(0ns), "0s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(2000ms), "2s");
  EXPECT_EQ(format_duration(600s), "10m");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(48h), "2d");
  EXPECT_EQ(format_duration(250us), "250us");
  EXPECT_EQ(format_duration(1001ns), "1001ns");
}

TEST(FormatDuration, RoundTrips) {
  for (Duration d : {Duration(1ns), Duration(999us), Duration(1500ms), Duration(61s), Duration(25h), Duration(7ms),
                     Duration(100ms), Duration(123456789ns)}) {
    auto back = parse_duration(format_duration(d));
    ASSERT_TRUE(back.ok()) << format_duration(d);
    EXPECT_EQ(*back, d) << format_duration(d);
  }
}

TEST(ParseSize, Units) {
  EXPECT_EQ(*parse_size("256MiB"), 256ull << 20);
  EXPECT_EQ(*parse_size("10kB"), 10000u);
  EXPECT_EQ(*parse_size("10KB"), 10000u);
  EXPECT_EQ(*parse_size("1.5KiB"), 1536u);
  EXPECT_EQ(*parse_size("2GB"), 2000000000u);
  EXPECT_EQ(*parse_size("1TiB"), 1ull << 40);
  EXPECT_EQ(*parse_size("0B"), 0u);
  EXPECT_EQ(*parse_size("17B"), 17u);
}

TEST(ParseSize, Errors) {
  EXPECT_EQ(parse_size("256").error().message, "invalid size '256': missing unit (B, kB, MB, GB, KiB, MiB, GiB)");
  EXPECT_EQ(parse_size("1mb").error().message,
            "invalid size '1mb': unknown unit 'mb' (B, kB, MB, GB, KiB, MiB, GiB)");
  EXPECT_FALSE(parse_size("-1MB").ok());
  EXPECT_FALSE(parse_size("").ok());
  EXPECT_EQ(parse_size("20000000TB").error().message, "size '20000000TB' is too large");
}

TEST(ParseSize, LargestValuesDoNotOverflow) {
  // 10^19 bytes fits in uint64 (max ~1.8e19) but not in int64.
  auto r = parse_size("10000000TB");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, 10000000000000000000ull);
  EXPECT_FALSE(parse_size("18446744073709551616B").ok());  // 2^64
}

TEST(FormatSize, ShortestExactFormAndRoundTrip) {
  EXPECT_EQ(format_size(0), "0B");
  EXPECT_EQ(format_size(256ull << 20), "256MiB");
  EXPECT_EQ(format_size(1000), "1kB");
  EXPECT_EQ(format_size(1536), "1536B");
  EXPECT_EQ(format_size(3ull << 30), "3GiB");
  for (uint64_t v : {0ull, 1ull, 1000ull, 1024ull, 1536ull, 5000000ull, 1ull << 40, 123456789ull}) {
    auto back = parse_size(format_size(v));
    ASSERT_TRUE(back.ok()) << format_size(v);
    EXPECT_EQ(*back, v) << format_size(v);
  }
}

TEST(ToMs, Fractional) {
  EXPECT_DOUBLE_EQ(to_ms(1500us), 1.5);
  EXPECT_DOUBLE_EQ(to_ms(2s), 2000.0);
}

}  // namespace
}  // namespace uplink
