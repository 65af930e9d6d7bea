#pragma once
// ThingsBoard server-side RPC requests (the device API): the platform
// publishes {"method": "...", "params": <any JSON>} on
// v1/devices/me/rpc/request/<id> and expects the answer on
// v1/devices/me/rpc/response/<id>. Pure, so it is unit-tested and fuzzed on
// its own (tb_rpc_fuzz.cc); UplinkModule::on_rpc decides what to answer.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace uplink {

inline constexpr std::string_view kTbRpcRequestPrefix = "v1/devices/me/rpc/request/";
inline constexpr std::string_view kTbRpcResponsePrefix = "v1/devices/me/rpc/response/";

struct TbRpcRequest {
  std::string id;          // the topic's last level, as the platform wrote it
  std::string method;
  nlohmann::json params;   // null when absent
};

// The request id of an RPC request topic; nullopt for any other topic (not
// ours to answer).
std::optional<std::string> tb_rpc_id(std::string_view topic);

// A request, or why not: "not an RPC request topic" (ignore it) or
// "malformed RPC request" (answer that on the response topic: the payload is
// not a JSON object with a string "method").
Result<TbRpcRequest> parse_tb_rpc(std::string_view topic, std::string_view payload);

}  // namespace uplink
