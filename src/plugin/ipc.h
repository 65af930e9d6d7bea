#pragma once
// The framed protocol between uplinkd and one uplink-plugin-host, over a
// socketpair (SOCK_STREAM; the host gets its end by number: --fd N).
//
//   frame = u32 body_length | u8 type | payload (body_length - 1 bytes)
//
// Integers are in the machine's byte order (both ends are on one machine),
// strings are u16/u32 length + bytes (no NUL). The codec is pure: encoders
// append to a std::string, FrameDecoder cuts a byte stream into frames and
// refuses garbage (a zero or oversized length, an unknown type), and every
// payload decoder checks its bounds and refuses trailing bytes.
//
//   daemon -> host                         host -> daemon
//   Init     {name, config_json, class}    Ready   {plugin name, version}
//   Samples  [{stream, ts, value}...]      Fatal   {reason, message}   (then exits)
//   Ping     {seq}                         Pong    {seq}
//   Connectivity {online}                  Stats   {counters}          (with each Pong)
//   LoadModel {id, path}                   ModelResult {id, code, message}
//   Shutdown {}                            Message {class, topic, payload}
//                                          Log     {level, text}
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace uplink::plugin::ipc {

inline constexpr size_t kHeaderSize = 5;              // u32 length + u8 type
inline constexpr uint32_t kMaxFrameBody = 4u << 20;   // 4 MiB: a batch of samples or one message
inline constexpr size_t kMaxSamplesPerFrame = 65536;

enum class Type : uint8_t {
  init = 1,
  ready = 2,
  fatal = 3,
  samples = 4,
  message = 5,
  ping = 6,
  pong = 7,
  connectivity = 8,
  load_model = 9,
  model_result = 10,
  log = 11,
  stats = 12,
  shutdown = 13,
};
bool known_type(uint8_t t);
std::string_view type_name(Type t);

struct Frame {
  Type type;
  std::string payload;
};

struct Init {
  std::string name;         // [plugins.NAME]
  std::string config_json;  // [plugins.NAME.config] as a JSON object
  std::string default_class;
};
struct Ready {
  std::string plugin_name;     // from the plugin's table (may be empty)
  std::string plugin_version;
};
// Why the host gives up: "abi" (version, size, symbol, missing function),
// "dlopen", "create", "protocol", "privileges", "limits", "memory" (a crash at
// the memory limit, sent from the host's crash handler).
struct Fatal {
  std::string reason;
  std::string message;
};
struct Sample {
  std::string stream;
  double ts = 0;
  double value = 0;
  friend bool operator==(const Sample&, const Sample&) = default;
};
struct Message {
  std::string msg_class;  // empty = the plugin's default class
  std::string topic;
  std::string payload;
  friend bool operator==(const Message&, const Message&) = default;
};
struct LoadModel {
  uint64_t id = 0;
  std::string path;
};
struct ModelResult {
  uint64_t id = 0;
  int32_t code = 0;  // uplink_result
  std::string message;
};
struct LogLine {
  uint8_t level = 2;  // uplink_log_level
  std::string text;
};
// The host's own counters, sent with every Pong.
struct Stats {
  uint64_t samples = 0;          // delivered to on_samples
  uint64_t sample_errors = 0;    // on_samples calls that returned an error
  uint64_t messages = 0;         // publish() calls taken
  uint64_t messages_refused = 0; // publish() answered EFULL or EINVAL
  friend bool operator==(const Stats&, const Stats&) = default;
};

// ---- encoders: append one whole frame to `out` --------------------------
void encode_init(std::string& out, const Init& m);
void encode_ready(std::string& out, const Ready& m);
void encode_fatal(std::string& out, const Fatal& m);
// A batch; the caller keeps batches under kMaxFrameBody (SampleBatcher does).
void encode_samples(std::string& out, const Sample* samples, size_t count);
void encode_message(std::string& out, std::string_view msg_class, std::string_view topic, std::string_view payload);
void encode_ping(std::string& out, uint64_t seq);
void encode_pong(std::string& out, uint64_t seq);
void encode_connectivity(std::string& out, bool online);
void encode_load_model(std::string& out, const LoadModel& m);
void encode_model_result(std::string& out, const ModelResult& m);
void encode_log(std::string& out, uint8_t level, std::string_view text);
void encode_stats(std::string& out, const Stats& m);
void encode_shutdown(std::string& out);

inline constexpr size_t kMaxStreamName = 1024;

// ---- decoders: the payload of a frame of the right type -----------------
Result<Init> decode_init(std::string_view p);
Result<Ready> decode_ready(std::string_view p);
Result<Fatal> decode_fatal(std::string_view p);
// Calls fn(stream, ts, value) per sample without copying names; fails (and
// stops) at the first malformed sample.
template <class Fn>
Result<size_t> for_each_sample(std::string_view p, Fn&& fn);
Result<std::vector<Sample>> decode_samples(std::string_view p);
// Views into `p` (valid while p is).
struct MessageView {
  std::string_view msg_class, topic, payload;
};
Result<MessageView> decode_message(std::string_view p);
Result<uint64_t> decode_ping(std::string_view p);  // also Pong
Result<bool> decode_connectivity(std::string_view p);
Result<LoadModel> decode_load_model(std::string_view p);
Result<ModelResult> decode_model_result(std::string_view p);
Result<LogLine> decode_log(std::string_view p);
Result<Stats> decode_stats(std::string_view p);

// Cuts a byte stream into frames. Feed bytes with append() (or write into
// prepare()/commit() to avoid a copy), then call next() until it returns
// nullopt. After an error the decoder stays failed: the peer is broken.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_body = kMaxFrameBody) : max_body_(max_body) {}
  void append(const char* data, size_t n);
  // A view of the next complete frame; valid until the next call to any
  // member. nullopt: need more bytes (or failed(): see error()).
  struct View {
    Type type;
    std::string_view payload;
  };
  std::optional<View> next();
  // Complete frames buffered and not yet returned by next(), without
  // consuming them (the host answers heartbeats found behind queued samples).
  template <class Fn>
  void peek_all(Fn&& fn) const;
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  uint32_t max_body_;
  std::string error_;
};

// ---- implementation of the templates -----------------------------------
template <class Fn>
void FrameDecoder::peek_all(Fn&& fn) const {
  if (failed()) return;
  size_t p = pos_;
  while (buf_.size() - p >= kHeaderSize) {
    uint32_t len = 0;
    std::memcpy(&len, buf_.data() + p, 4);
    uint8_t type = uint8_t(buf_[p + 4]);
    if (len == 0 || len > max_body_ + 1 || !known_type(type) || buf_.size() - p < 4 + size_t(len)) return;
    fn(Type(type), std::string_view(buf_).substr(p + 5, len - 1));
    p += 4 + size_t(len);
  }
}

namespace detail {
class Reader {
 public:
  explicit Reader(std::string_view p) : p_(p) {}
  bool u8(uint8_t& v);
  bool u16(uint16_t& v);
  bool u32(uint32_t& v);
  bool u64(uint64_t& v);
  bool i32(int32_t& v);
  bool f64(double& v);
  bool str16(std::string_view& v);
  bool str32(std::string_view& v);
  bool done() const { return pos_ == p_.size(); }

 private:
  bool take(void* out, size_t n);
  std::string_view p_;
  size_t pos_ = 0;
};
}  // namespace detail

template <class Fn>
Result<size_t> for_each_sample(std::string_view p, Fn&& fn) {
  detail::Reader r(p);
  uint32_t count = 0;
  if (!r.u32(count)) return make_error("samples: truncated count");
  if (count == 0 || count > kMaxSamplesPerFrame) return make_error("samples: bad count " + std::to_string(count));
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view stream;
    double ts = 0, value = 0;
    if (!r.str16(stream) || !r.f64(ts) || !r.f64(value))
      return make_error("samples: truncated sample " + std::to_string(i) + " of " + std::to_string(count));
    if (stream.empty() || stream.size() > kMaxStreamName) return make_error("samples: bad stream name length");
    fn(stream, ts, value);
  }
  if (!r.done()) return make_error("samples: trailing bytes");
  return size_t(count);
}

}  // namespace uplink::plugin::ipc
