// libFuzzer entry point for the control protocol: the bytes a client sends on
// the socket, through the LineFramer and parse_request, as the server does.
// Byte 0 picks the size of the chunks the stream arrives in; the rest is the
// stream. Aborts (a bug) when:
//   - the lines differ from a plain split of the stream ('\n', one '\r' before
//     it dropped, blank lines skipped, too_long for good past the limit), or
//     depend on how the stream was chunked;
//   - an accepted request breaks its command's spec (unknown command or field,
//     a missing required field, a wrong type), or does not read back equal
//     from its own encoding;
//   - a reply does not decode to what was encoded (encode_ok / encode_error).
// Any exception escaping is a bug too (the server has no try around these).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "control/protocol.h"
#include "control/verbs.h"

namespace {

using uplink::control::FieldType;
using uplink::control::Json;
using uplink::control::LineFramer;

constexpr size_t kMaxLine = 1024;  // small, so the fuzzer reaches the limit

void check(bool ok) {
  if (!ok) std::abort();
}

// What the framer yields for a whole stream: its lines, then whether it ended
// poisoned (too_long) or with an unfinished last line of `partial` bytes.
struct Framing {
  std::vector<std::string> lines;
  bool too_long = false;
  size_t partial = 0;
  bool operator==(const Framing&) const = default;
};

Framing reference_framing(std::string_view s) {
  Framing f;
  for (;;) {
    size_t nl = s.find('\n');
    if (nl == std::string_view::npos) {
      if (s.size() > kMaxLine) f.too_long = true;
      else f.partial = s.size();
      return f;
    }
    if (nl > kMaxLine) {
      f.too_long = true;
      return f;
    }
    std::string line(s.substr(0, nl));
    s.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) f.lines.push_back(std::move(line));
  }
}

Framing frame_in_chunks(std::string_view s, size_t chunk) {
  LineFramer framer(kMaxLine);
  Framing f;
  for (size_t at = 0; at < s.size() && !f.too_long; at += chunk) {
    framer.feed(s.substr(at, chunk));
    for (;;) {
      auto next = framer.next();
      if (next.status == LineFramer::Status::need_more) break;
      if (next.status == LineFramer::Status::too_long) {
        f.too_long = true;
        check(framer.next().status == LineFramer::Status::too_long);  // poisoned for good
        break;
      }
      check(!next.line.empty() && next.line.find('\n') == std::string::npos && next.line.size() <= kMaxLine);
      f.lines.push_back(std::move(next.line));
    }
  }
  if (!f.too_long) f.partial = framer.buffered();
  check(framer.has_partial() == (f.partial > 0));
  return f;
}

// A module verb as modules register them, so verb specs are validated too.
const uplink::control::VerbRegistry& verbs() {
  static const uplink::control::VerbRegistry registry = [] {
    uplink::control::VerbRegistry r;
    uplink::control::Verb v;
    v.name = "queue";
    v.help = "fuzz verb";
    v.fields = {{"class", FieldType::string, false}};
    v.owner = "fuzz";
    v.handler = [](const uplink::control::Request&) { return uplink::control::Reply::failure("unused"); };
    r.add(std::move(v));
    return r;
  }();
  return registry;
}

bool has_type(const Json& v, FieldType t) {
  switch (t) {
    case FieldType::string: return v.is_string();
    case FieldType::boolean: return v.is_boolean();
    case FieldType::integer: return v.is_number_integer();
    case FieldType::object: return v.is_object();
    case FieldType::array: return v.is_array();
    case FieldType::any: return true;
  }
  return false;
}

void check_request(const std::string& line) {
  using namespace uplink::control;
  auto r = parse_request(line, &verbs());
  if (!r.ok()) {
    check(!r.error().message.empty());
    auto reply = decode_response(encode_error(r.error().message));
    check(!reply.ok() && reply.error().message == r.error().message);
    return;
  }
  const CommandSpec* spec = find_command(r->cmd);
  if (!spec) spec = verbs().spec(r->cmd);
  check(spec != nullptr);
  check(r->args.is_object() && r->args.value("cmd", Json()) == r->cmd);
  for (const auto& f : spec->fields) {
    auto it = r->args.find(f.name);
    check(it == r->args.end() ? !f.required : has_type(*it, f.type));
  }
  for (auto it = r->args.begin(); it != r->args.end(); ++it) {
    const std::string& key = it.key();
    check(key == "cmd" || std::any_of(spec->fields.begin(), spec->fields.end(),
                                      [&](const FieldSpec& f) { return f.name == key; }));
  }
  // What the client library sends for this request reads back the same.
  std::string again = encode_request(r->args);
  check(!again.empty() && again.back() == '\n');
  again.pop_back();
  auto back = parse_request(again, &verbs());
  check(back.ok() && back->cmd == r->cmd && back->args == r->args);
  auto reply = decode_response(encode_ok(r->args));
  check(reply.ok() && *reply == r->args);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Framing expected = reference_framing(stream);
  check(frame_in_chunks(stream, stream.size() + 1) == expected);
  check(frame_in_chunks(stream, chunk) == expected);
  for (const auto& line : expected.lines) check_request(line);
  // A response line from the daemon, as uplinkctl reads it: a value or an error, never a throw.
  for (const auto& line : expected.lines) (void)uplink::control::decode_response(line);
  return 0;
}
