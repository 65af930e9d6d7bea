#include "uplink/tb_rpc.h"

#include <gtest/gtest.h>

namespace uplink {
namespace {

const std::string kTopic = "v1/devices/me/rpc/request/42";

std::string error_of(std::string_view topic, std::string_view payload) {
  auto r = parse_tb_rpc(topic, payload);
  return r.ok() ? std::string("ok") : r.error().message;
}

TEST(TbRpc, ParsesIdMethodAndParams) {
  auto r = parse_tb_rpc(kTopic, R"({"method":"link_disable","params":{"link":"wan1"}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, "42");
  EXPECT_EQ(r->method, "link_disable");
  EXPECT_EQ(r->params, nlohmann::json({{"link", "wan1"}}));

  r = parse_tb_rpc(kTopic, R"({"method":"status"})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->params.is_null());  // absent params read as null, as before the extraction
  r = parse_tb_rpc(kTopic, R"({"params":"wan2","method":"link_enable","extra":1})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->params, "wan2");  // unknown keys are the platform's business: ignored
}

TEST(TbRpc, TheIdIsTheRestOfTheTopic) {
  EXPECT_EQ(tb_rpc_id(kTopic), "42");
  EXPECT_EQ(tb_rpc_id("v1/devices/me/rpc/request/"), "");
  EXPECT_EQ(tb_rpc_id("v1/devices/me/rpc/request/a/b"), "a/b");
  EXPECT_EQ(tb_rpc_id("v1/devices/me/rpc/response/42"), std::nullopt);
  EXPECT_EQ(tb_rpc_id("v1/devices/me/rpc/reques"), std::nullopt);
}

// on_rpc copied the params (a recursive copy): a payload of nested brackets
// overflowed the stack. They are moved now, never copied or dumped.
TEST(TbRpc, DeeplyNestedParamsAreNotACrash) {
  const size_t depth = 200000;
  auto r = parse_tb_rpc(kTopic, R"({"method":"status","params":)" + std::string(depth, '[') +
                                    std::string(depth, ']') + "}");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->params.is_array());
}

TEST(TbRpc, RefusesWithTheAnswerTheModuleSends) {
  EXPECT_EQ(error_of("v1/devices/me/attributes", R"({"method":"status"})"), "not an RPC request topic");
  EXPECT_EQ(error_of(kTopic, ""), "malformed RPC request");
  EXPECT_EQ(error_of(kTopic, R"({"method":"status")"), "malformed RPC request");
  EXPECT_EQ(error_of(kTopic, R"(["status"])"), "malformed RPC request");
  EXPECT_EQ(error_of(kTopic, R"({"params":{}})"), "malformed RPC request");
  EXPECT_EQ(error_of(kTopic, R"({"method":7})"), "malformed RPC request");
  EXPECT_EQ(error_of(kTopic, std::string("{\"method\":\"st\xff\"}")), "malformed RPC request");  // not UTF-8
}

}  // namespace
}  // namespace uplink
