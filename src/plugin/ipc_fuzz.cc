// libFuzzer entry point for the plugin IPC (ipc.h): the bytes one end reads
// from the socketpair. Both ends decode what the other sends, and a plugin
// host runs third-party code, so the daemon must survive anything it writes.
// Byte 0 picks a payload decoder (1 + b % 13: the frame type) and the size of
// the chunks the stream arrives in (1 + b / 13); the rest is both a payload for
// that decoder and a byte stream for FrameDecoder. Aborts (a bug) when:
//   - a payload that decodes does not encode back to the same bytes;
//   - the frames FrameDecoder returns do not re-encode to the stream's
//     prefix, or leave bytes unaccounted for, or differ from what peek_all
//     showed, or a failed decoder recovers;
//   - a decoded value breaks its documented bounds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugin/ipc.h"

namespace {

namespace ipc = uplink::plugin::ipc;
using ipc::Type;

constexpr uint32_t kMaxBody = 4096;  // small, so the fuzzer reaches the limit

void check(bool ok) {
  if (!ok) std::abort();
}

std::string frame(Type t, std::string_view payload) {
  std::string out(4, '\0');
  uint32_t len = uint32_t(payload.size() + 1);
  std::memcpy(out.data(), &len, 4);
  out.push_back(char(t));
  out.append(payload);
  return out;
}

// Decodes `p` as the payload of a `t` frame; what decodes must encode back to
// exactly the frame it came in.
void check_payload(Type t, std::string_view p) {
  std::string out;
  switch (t) {
    case Type::init:
      if (auto m = ipc::decode_init(p)) ipc::encode_init(out, *m);
      break;
    case Type::ready:
      if (auto m = ipc::decode_ready(p)) ipc::encode_ready(out, *m);
      break;
    case Type::fatal:
      if (auto m = ipc::decode_fatal(p)) ipc::encode_fatal(out, *m);
      break;
    case Type::samples:
      if (auto v = ipc::decode_samples(p)) {
        check(!v->empty() && v->size() <= ipc::kMaxSamplesPerFrame);
        for (const auto& s : *v) check(!s.stream.empty() && s.stream.size() <= ipc::kMaxStreamName);
        size_t seen = 0;
        auto n = ipc::for_each_sample(p, [&](std::string_view, double, double) { ++seen; });
        check(n.ok() && *n == v->size() && seen == v->size());
        ipc::encode_samples(out, v->data(), v->size());
      }
      break;
    case Type::message:
      if (auto m = ipc::decode_message(p)) {
        check(!m->topic.empty());
        ipc::encode_message(out, m->msg_class, m->topic, m->payload);
      }
      break;
    case Type::ping:
      if (auto seq = ipc::decode_ping(p)) ipc::encode_ping(out, *seq);
      break;
    case Type::pong:
      if (auto seq = ipc::decode_ping(p)) ipc::encode_pong(out, *seq);
      break;
    case Type::connectivity:
      if (auto online = ipc::decode_connectivity(p)) ipc::encode_connectivity(out, *online);
      break;
    case Type::load_model:
      if (auto m = ipc::decode_load_model(p)) {
        check(!m->path.empty());
        ipc::encode_load_model(out, *m);
      }
      break;
    case Type::model_result:
      if (auto m = ipc::decode_model_result(p)) ipc::encode_model_result(out, *m);
      break;
    case Type::log:
      if (auto m = ipc::decode_log(p)) {
        check(m->level <= 4);
        ipc::encode_log(out, m->level, m->text);
      }
      break;
    case Type::stats:
      if (auto m = ipc::decode_stats(p)) ipc::encode_stats(out, *m);
      break;
    case Type::shutdown:
      if (p.empty()) ipc::encode_shutdown(out);  // no decoder: a receiver ignores any payload
      break;
  }
  if (!out.empty()) check(out == frame(t, p));
}

using Frames = std::vector<std::pair<Type, std::string>>;

// Feeds the stream in chunks; checks every frame and how the decoder accounts
// for the bytes.
void check_stream(std::string_view s, size_t chunk) {
  ipc::FrameDecoder dec(kMaxBody);
  std::string rebuilt;  // the frames returned, encoded again
  for (size_t at = 0; at < s.size(); at += chunk) {
    dec.append(s.data() + at, std::min(chunk, s.size() - at));
    Frames peeked, taken;
    dec.peek_all([&](Type t, std::string_view p) { peeked.emplace_back(t, std::string(p)); });
    while (auto v = dec.next()) {
      check(ipc::known_type(uint8_t(v->type)) && v->payload.size() <= kMaxBody);
      taken.emplace_back(v->type, std::string(v->payload));
      rebuilt += frame(v->type, v->payload);
      check_payload(v->type, v->payload);
    }
    check(peeked == taken);
    if (dec.failed()) break;
  }
  check(s.substr(0, rebuilt.size()) == rebuilt);
  if (!dec.failed()) {
    check(rebuilt.size() + dec.buffered() == s.size());
    return;
  }
  // Failed on the header right after the last good frame, and for good.
  check(!dec.error().empty() && s.size() - rebuilt.size() >= 4);
  const std::string ping = frame(Type::ping, std::string(8, '\0'));
  dec.append(ping.data(), ping.size());
  check(!dec.next() && dec.failed());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Type type = Type(1 + data[0] % 13);
  const size_t chunk = 1 + data[0] / 13;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  check_payload(type, rest);
  check_stream(rest, chunk);
  return 0;
}
