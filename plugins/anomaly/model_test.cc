#include <gtest/gtest.h>

#include <fstream>

#include "model.h"

namespace uplink::anomaly {
namespace {

ModelError parse_err(const std::string& text) {
  Params p;
  ModelError err;
  EXPECT_FALSE(parse_model(text, p, err)) << text;
  return err;
}

TEST(Model, ParsesKeysCommentsAndBlankLines) {
  Params p;
  ModelError err;
  ASSERT_TRUE(parse_model("# a model\n\nversion = 1\n  threshold=0.6  \r\ncooldown = 12\n", p, err)) << err.message;
  EXPECT_DOUBLE_EQ(p.threshold, 0.6);
  EXPECT_EQ(p.cooldown, 12);
  EXPECT_EQ(p.bins, Params{}.bins);  // untouched keys keep the compiled-in defaults
}

TEST(Model, ErrorsCarryLineNumbers) {
  struct Case {
    const char* text;
    int line;
    const char* message;  // a part of the message ("": any)
  };
  const Case cases[] = {
      {"version = 1\nthreshold = 0.5\nbogus = 3\n", 3, "unknown key 'bogus'"},
      {"version = 1\n\nthreshold = high\n", 3, "not a number"},
      {"version = 1\nthreshold\n", 2, "key = value"},
      {"version = 1\nthreshold = 1.5\n", 2, "out of range"},
      {"version = 1\nbins = 2.5\n", 2, "integer"},
      {"version = 1\nbins = 8\nbins = 9\n", 3, "duplicate"},
      {"version = 2\n", 1, "unsupported model version"},
      {"threshold = 0.5\n", 0, "missing 'version'"},
      {"version = 1\n= 3\n", 2, ""},
      {"version = 1\nrearm = 300\n", 2, "unknown key 'rearm'"},  // removed with the re-arm code
  };
  for (const auto& c : cases) {
    const auto e = parse_err(c.text);
    EXPECT_EQ(e.line, c.line) << c.text;
    EXPECT_NE(e.message.find(c.message), std::string::npos) << c.text << " -> " << e.message;
  }
}

TEST(Model, FailedParseLeavesParamsUntouched) {
  Params p;
  p.threshold = 0.42;
  ModelError err;
  EXPECT_FALSE(parse_model("version = 1\nthreshold = 0.9\nnope = 1\n", p, err));
  EXPECT_DOUBLE_EQ(p.threshold, 0.42);
}

TEST(Model, FormatRoundTrips) {
  Params p;
  p.threshold = 0.123456789;
  p.bins = 17;
  Params q;
  ModelError err;
  ASSERT_TRUE(parse_model(format_model(p), q, err)) << err.line << ": " << err.message;
  EXPECT_EQ(format_model(p), format_model(q));
}

TEST(Model, ShippedModelEqualsCompiledInDefaults) {
  Params p;
  std::string err;
  ASSERT_TRUE(load_model(UPLINK_ANOMALY_DEFAULT_MODEL, p, err)) << err;
  EXPECT_EQ(format_model(p), format_model(Params{}));
}

TEST(Model, LoadReportsFileAndLine) {
  const std::string path = ::testing::TempDir() + "/bad.model";
  {
    std::ofstream f(path);
    f << "version = 1\n\nwarmup = 3\n";
  }
  Params p;
  std::string err;
  EXPECT_FALSE(load_model(path, p, err));
  EXPECT_EQ(err.rfind(path + ":3: ", 0), 0u) << err;
  EXPECT_FALSE(load_model(path + ".missing", p, err));
  EXPECT_NE(err.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace uplink::anomaly
