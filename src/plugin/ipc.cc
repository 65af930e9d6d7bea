#include "plugin/ipc.h"

#include <cstring>

namespace uplink::plugin::ipc {

namespace {

// Appends a frame header now and patches its length when the body is done.
class Writer {
 public:
  Writer(std::string& out, Type t) : out_(out), start_(out.size()) {
    out_.append(4, '\0');
    out_.push_back(char(t));
  }
  ~Writer() {
    uint32_t len = uint32_t(out_.size() - start_ - 4);
    std::memcpy(out_.data() + start_, &len, 4);
  }
  Writer& u8(uint8_t v) { return raw(&v, 1); }
  Writer& u16(uint16_t v) { return raw(&v, 2); }
  Writer& u32(uint32_t v) { return raw(&v, 4); }
  Writer& u64(uint64_t v) { return raw(&v, 8); }
  Writer& i32(int32_t v) { return raw(&v, 4); }
  Writer& f64(double v) { return raw(&v, 8); }
  // Over-long strings are cut (callers validate lengths first).
  Writer& str16(std::string_view s) {
    size_t n = std::min<size_t>(s.size(), 0xffff);
    u16(uint16_t(n));
    out_.append(s.data(), n);
    return *this;
  }
  Writer& str32(std::string_view s) {
    u32(uint32_t(s.size()));
    out_.append(s);
    return *this;
  }

 private:
  Writer& raw(const void* p, size_t n) {
    out_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string& out_;
  size_t start_;
};

}  // namespace

bool known_type(uint8_t t) { return t >= uint8_t(Type::init) && t <= uint8_t(Type::shutdown); }

std::string_view type_name(Type t) {
  switch (t) {
    case Type::init: return "init";
    case Type::ready: return "ready";
    case Type::fatal: return "fatal";
    case Type::samples: return "samples";
    case Type::message: return "message";
    case Type::ping: return "ping";
    case Type::pong: return "pong";
    case Type::connectivity: return "connectivity";
    case Type::load_model: return "load_model";
    case Type::model_result: return "model_result";
    case Type::log: return "log";
    case Type::stats: return "stats";
    case Type::shutdown: return "shutdown";
  }
  return "unknown";
}

void encode_init(std::string& out, const Init& m) {
  Writer(out, Type::init).str16(m.name).str32(m.config_json).str16(m.default_class);
}
void encode_ready(std::string& out, const Ready& m) {
  Writer(out, Type::ready).str16(m.plugin_name).str16(m.plugin_version);
}
void encode_fatal(std::string& out, const Fatal& m) { Writer(out, Type::fatal).str16(m.reason).str32(m.message); }
void encode_samples(std::string& out, const Sample* samples, size_t count) {
  Writer w(out, Type::samples);
  w.u32(uint32_t(count));
  for (size_t i = 0; i < count; ++i) w.str16(samples[i].stream).f64(samples[i].ts).f64(samples[i].value);
}
void encode_message(std::string& out, std::string_view msg_class, std::string_view topic, std::string_view payload) {
  Writer(out, Type::message).str16(msg_class).str16(topic).str32(payload);
}
void encode_ping(std::string& out, uint64_t seq) { Writer(out, Type::ping).u64(seq); }
void encode_pong(std::string& out, uint64_t seq) { Writer(out, Type::pong).u64(seq); }
void encode_connectivity(std::string& out, bool online) { Writer(out, Type::connectivity).u8(online ? 1 : 0); }
void encode_load_model(std::string& out, const LoadModel& m) { Writer(out, Type::load_model).u64(m.id).str32(m.path); }
void encode_model_result(std::string& out, const ModelResult& m) {
  Writer(out, Type::model_result).u64(m.id).i32(m.code).str32(m.message);
}
void encode_log(std::string& out, uint8_t level, std::string_view text) { Writer(out, Type::log).u8(level).str32(text); }
void encode_stats(std::string& out, const Stats& m) {
  Writer(out, Type::stats).u64(m.samples).u64(m.sample_errors).u64(m.messages).u64(m.messages_refused);
}
void encode_shutdown(std::string& out) { Writer(out, Type::shutdown); }

namespace detail {
bool Reader::take(void* out, size_t n) {
  if (p_.size() - pos_ < n) return false;
  std::memcpy(out, p_.data() + pos_, n);
  pos_ += n;
  return true;
}
bool Reader::u8(uint8_t& v) { return take(&v, 1); }
bool Reader::u16(uint16_t& v) { return take(&v, 2); }
bool Reader::u32(uint32_t& v) { return take(&v, 4); }
bool Reader::u64(uint64_t& v) { return take(&v, 8); }
bool Reader::i32(int32_t& v) { return take(&v, 4); }
bool Reader::f64(double& v) { return take(&v, 8); }
bool Reader::str16(std::string_view& v) {
  uint16_t n = 0;
  if (!u16(n) || p_.size() - pos_ < n) return false;
  v = p_.substr(pos_, n);
  pos_ += n;
  return true;
}
bool Reader::str32(std::string_view& v) {
  uint32_t n = 0;
  if (!u32(n) || p_.size() - pos_ < n) return false;
  v = p_.substr(pos_, n);
  pos_ += n;
  return true;
}
}  // namespace detail

namespace {
Error bad(std::string_view what) { return make_error(std::string(what) + ": malformed payload"); }
}  // namespace

Result<Init> decode_init(std::string_view p) {
  detail::Reader r(p);
  std::string_view name, cfg, cls;
  if (!r.str16(name) || !r.str32(cfg) || !r.str16(cls) || !r.done()) return bad("init");
  return Init{std::string(name), std::string(cfg), std::string(cls)};
}
Result<Ready> decode_ready(std::string_view p) {
  detail::Reader r(p);
  std::string_view n, v;
  if (!r.str16(n) || !r.str16(v) || !r.done()) return bad("ready");
  return Ready{std::string(n), std::string(v)};
}
Result<Fatal> decode_fatal(std::string_view p) {
  detail::Reader r(p);
  std::string_view reason, msg;
  if (!r.str16(reason) || !r.str32(msg) || !r.done()) return bad("fatal");
  return Fatal{std::string(reason), std::string(msg)};
}
Result<std::vector<Sample>> decode_samples(std::string_view p) {
  std::vector<Sample> v;
  auto r = for_each_sample(p, [&](std::string_view s, double ts, double value) {
    v.push_back(Sample{std::string(s), ts, value});
  });
  if (!r) return r.error();
  return v;
}
Result<MessageView> decode_message(std::string_view p) {
  detail::Reader r(p);
  MessageView m;
  if (!r.str16(m.msg_class) || !r.str16(m.topic) || !r.str32(m.payload) || !r.done()) return bad("message");
  if (m.topic.empty()) return make_error("message: empty topic");
  return m;
}
Result<uint64_t> decode_ping(std::string_view p) {
  detail::Reader r(p);
  uint64_t seq = 0;
  if (!r.u64(seq) || !r.done()) return bad("ping");
  return seq;
}
Result<bool> decode_connectivity(std::string_view p) {
  detail::Reader r(p);
  uint8_t v = 0;
  if (!r.u8(v) || !r.done() || v > 1) return bad("connectivity");
  return v == 1;
}
Result<LoadModel> decode_load_model(std::string_view p) {
  detail::Reader r(p);
  LoadModel m;
  std::string_view path;
  if (!r.u64(m.id) || !r.str32(path) || !r.done() || path.empty()) return bad("load_model");
  m.path = std::string(path);
  return m;
}
Result<ModelResult> decode_model_result(std::string_view p) {
  detail::Reader r(p);
  ModelResult m;
  std::string_view msg;
  if (!r.u64(m.id) || !r.i32(m.code) || !r.str32(msg) || !r.done()) return bad("model_result");
  m.message = std::string(msg);
  return m;
}
Result<LogLine> decode_log(std::string_view p) {
  detail::Reader r(p);
  LogLine l;
  std::string_view text;
  if (!r.u8(l.level) || !r.str32(text) || !r.done() || l.level > 4) return bad("log");
  l.text = std::string(text);
  return l;
}
Result<Stats> decode_stats(std::string_view p) {
  detail::Reader r(p);
  Stats s;
  if (!r.u64(s.samples) || !r.u64(s.sample_errors) || !r.u64(s.messages) || !r.u64(s.messages_refused) || !r.done())
    return bad("stats");
  return s;
}

void FrameDecoder::append(const char* data, size_t n) {
  if (failed()) return;
  // Compact before growing: consumed bytes are dead.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > 64 * 1024)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, n);
}

std::optional<FrameDecoder::View> FrameDecoder::next() {
  if (failed()) return std::nullopt;
  size_t avail = buf_.size() - pos_;
  if (avail < 4) return std::nullopt;
  uint32_t len = 0;
  std::memcpy(&len, buf_.data() + pos_, 4);
  if (len == 0 || len > max_body_ + 1) {
    error_ = "frame length " + std::to_string(len) + " outside 1.." + std::to_string(max_body_ + 1);
    return std::nullopt;
  }
  if (avail < 5) return std::nullopt;
  uint8_t type = uint8_t(buf_[pos_ + 4]);
  if (!known_type(type)) {
    error_ = "unknown frame type " + std::to_string(type);
    return std::nullopt;
  }
  if (avail < 4 + size_t(len)) return std::nullopt;
  View v{Type(type), std::string_view(buf_).substr(pos_ + 5, len - 1)};
  pos_ += 4 + size_t(len);
  return v;
}

}  // namespace uplink::plugin::ipc
