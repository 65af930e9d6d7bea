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
  auto e = parse_err("version = 1\nthreshold = 0.5\nbogus = 3\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_NE(e.message.find("unknown key 'bogus'"), std::string::npos);

  e = parse_err("version = 1\n\nthreshold = high\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_NE(e.message.find("not a number"), std::string::npos);

  e = parse_err("version = 1\nthreshold\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("key = value"), std::string::npos);

  e = parse_err("version = 1\nthreshold = 1.5\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("out of range"), std::string::npos);

  e = parse_err("version = 1\nbins = 2.5\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("integer"), std::string::npos);

  e = parse_err("version = 1\nbins = 8\nbins = 9\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_NE(e.message.find("duplicate"), std::string::npos);

  e = parse_err("version = 2\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_NE(e.message.find("unsupported model version"), std::string::npos);

  e = parse_err("threshold = 0.5\n");
  EXPECT_EQ(e.line, 0);
  EXPECT_NE(e.message.find("missing 'version'"), std::string::npos);

  e = parse_err("version = 1\n= 3\n");
  EXPECT_EQ(e.line, 2);
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
