#pragma once
// The control protocol (docs/control-protocol.md): newline-delimited JSON over
// a unix stream socket. One request object per line, one response line per
// request; `{"cmd":"events","follow":true}` turns the connection into a stream
// of event lines. Everything here is pure (no sockets) so it is unit-tested and
// fuzzable on its own.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace uplink::control {

using Json = nlohmann::json;

inline constexpr size_t kMaxRequestBytes = 64 * 1024;

// Splits a byte stream into lines ('\n', an optional '\r' before it is
// dropped). A line longer than the limit poisons the framer: the connection
// cannot be resynchronised safely, so the caller replies once and closes.
class LineFramer {
 public:
  explicit LineFramer(size_t max_line = kMaxRequestBytes) : max_line_(max_line) {}

  enum class Status { line, need_more, too_long };
  struct Next {
    Status status;
    std::string line;  // set when status == line
  };

  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next complete, non-empty line, or why there is none.
  Next next();
  // Bytes received that do not yet form a complete line.
  bool has_partial() const { return !buf_.empty() && !too_long_; }
  size_t buffered() const { return buf_.size(); }

 private:
  std::string buf_;
  size_t max_line_;
  bool too_long_ = false;
};

enum class FieldType { string, boolean, integer, object, array, any };

struct FieldSpec {
  std::string_view name;
  FieldType type;
  bool required;
};

struct CommandSpec {
  std::string_view name;
  std::vector<FieldSpec> fields;  // besides "cmd"
  std::string_view help;
  bool changes_state = false;     // needs the admin credential (peer.h), not just the socket
};

// Every command the daemon understands, with its fields. Unknown commands and
// unknown fields are errors, as in the configuration: nothing is ignored.
const std::vector<CommandSpec>& command_specs();
const CommandSpec* find_command(std::string_view name);

struct Request {
  std::string cmd;
  Json args;  // the whole request object (including "cmd"), validated against its spec
  bool changes_state = false;  // from the spec (a module verb may say some of its forms only read)

  // Accessors for validated fields; optional ones may be absent.
  std::string str(std::string_view field) const;
  std::optional<std::string> opt_str(std::string_view field) const;
  bool flag(std::string_view field) const;  // absent = false
};

class VerbRegistry;  // verbs.h: the commands modules register
// Parses and validates one request line (without the newline) against the
// core commands and, when given, the verbs modules registered.
Result<Request> parse_request(std::string_view line, const VerbRegistry* verbs = nullptr);

// Encoders; each returns one complete line including '\n'. Invalid UTF-8 in
// strings is replaced, never thrown on: a reply must always go out.
std::string encode_request(const Json& request);
std::string encode_ok(const Json& result);
std::string encode_error(std::string_view message);
std::string encode_line(const Json& object);

// Client side: the result of a response line, or the daemon's error message.
Result<Json> decode_response(std::string_view line);

}  // namespace uplink::control
