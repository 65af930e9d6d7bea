#include "uplink/tb_rpc.h"

namespace uplink {

std::optional<std::string> tb_rpc_id(std::string_view topic) {
  if (!topic.starts_with(kTbRpcRequestPrefix)) return std::nullopt;
  return std::string(topic.substr(kTbRpcRequestPrefix.size()));
}

Result<TbRpcRequest> parse_tb_rpc(std::string_view topic, std::string_view payload) {
  auto id = tb_rpc_id(topic);
  if (!id) return make_error("not an RPC request topic");
  auto req = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (req.is_discarded() || !req.is_object()) return make_error("malformed RPC request");
  auto method = req.find("method");
  if (method == req.end() || !method->is_string()) return make_error("malformed RPC request");
  auto params = req.find("params");
  return TbRpcRequest{std::move(*id), method->get<std::string>(),
                      params == req.end() ? nlohmann::json() : std::move(*params)};
}

}  // namespace uplink
