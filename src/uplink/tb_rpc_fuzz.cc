// libFuzzer entry point for ThingsBoard RPC requests (what the platform, or
// anyone who can publish to the device's topics, sends). The input is
// "TOPIC\nPAYLOAD"; without a newline it is a payload on request topic 1.
// Aborts (a bug) when:
//   - the id or the refusal disagrees with the topic (an RPC topic is
//     answered on its own id; any other topic is ignored);
//   - a refusal is not one of the two answers the module sends;
//   - an accepted request, written back as {"method","params"}, does not
//     parse to an equal request;
//   - the answers on_rpc builds from it cannot be serialised (dump throws).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "uplink/tb_rpc.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace uplink;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string topic = std::string(kTbRpcRequestPrefix) + "1";
  std::string_view payload = in;
  if (size_t nl = in.find('\n'); nl != std::string_view::npos) {
    topic = std::string(in.substr(0, nl));
    payload = in.substr(nl + 1);
  }
  const auto id = tb_rpc_id(topic);
  check(id.has_value() == topic.starts_with(kTbRpcRequestPrefix));
  auto r = parse_tb_rpc(topic, payload);
  if (!r.ok()) {
    check(r.error().message == (id ? "malformed RPC request" : "not an RPC request topic"));
    return 0;
  }
  check(id && r->id == *id);
  // Writing it back copies and dumps params, both recursive: only for inputs
  // too short to nest deeply (the long seeds check that parsing does not recurse).
  if (payload.size() > 4096) return 0;
  nlohmann::json again{{"method", r->method}};
  if (!r->params.is_null()) again["params"] = r->params;
  auto back = parse_tb_rpc(topic, again.dump());
  check(back.ok() && back->id == r->id && back->method == r->method && back->params == r->params);
  // on_rpc's answers quote the method and the params' link; dump() must not throw on them.
  (void)nlohmann::json({{"error", "method '" + r->method + "' not allowed"}}).dump();
  if (r->params.is_string()) (void)nlohmann::json({{"error", "unknown link '" + r->params.get<std::string>() + "'"}}).dump();
  return 0;
}
