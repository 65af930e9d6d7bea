#pragma once
// Local producers: the unix socket uplink.sock, one JSON object per line.
//
//   request:  {"class": "alarm", "topic": "plant/line1", "payload": <any JSON>, "ttl": "10m"}   (all but payload optional)
//   reply:    {"ok":true,"id":N}            once the message is durable under `sync`
//             {"ok":false,"error":"..."}    malformed line, unknown class, too large, disk full, ...
//
// One reply line per request line, in the order of the requests. A malformed
// or oversized line costs only its own reply: the connection goes on with
// the next line, and other producers never notice. A string payload is sent
// as is; any other JSON value is sent as its compact JSON text.
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "uplink/queue.h"

namespace uplink {

// A JSON payload nested deeper than this is refused (its text is made with a
// recursive dump; telemetry is a few levels deep).
inline constexpr size_t kMaxPayloadDepth = 64;

// Parses one request line (without its newline). max_message bounds payload + topic.
Result<Message> parse_ingest_line(std::string_view line, uint64_t max_message);
std::string ingest_reply(const Result<uint64_t>& r);  // one line with '\n'

// Splits a byte stream into lines. A line longer than `max_line` is reported
// once as `too_long` and skipped up to its newline, so the stream stays in
// step (unlike a request protocol, a producer's next message is still good).
class IngestFramer {
 public:
  explicit IngestFramer(size_t max_line) : max_line_(max_line) {}
  enum class Status { line, too_long, need_more };
  struct Next {
    Status status;
    std::string line;
  };
  void feed(std::string_view bytes) { buf_.append(bytes); }
  Next next();

 private:
  std::string buf_;
  size_t max_line_;
  bool skipping_ = false;
};

struct IngestOptions {
  std::string path = "/run/uplinkd/uplink.sock";
  size_t max_connections = 64;
  size_t max_pending = 10000;  // replies owed on one connection before it stops reading
};

class IngestServer {
 public:
  IngestServer(boost::asio::io_context& io, DurableQueue& queue, IngestOptions options);
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Creates the parent directory, replaces a stale socket file (refuses when
  // another process answers on it), binds with mode 0660.
  Result<void> start();
  void stop();
  // Another queue (reconfigured): new lines go there; answers owed still arrive.
  void set_queue(DurableQueue& queue) { queue_ = &queue; }
  const std::string& path() const { return opts_.path; }
  size_t connections() const { return conns_.size(); }
  uint64_t lines() const { return lines_; }
  uint64_t malformed() const { return malformed_; }

 private:
  class Connection;
  void accept();

  boost::asio::io_context& io_;
  DurableQueue* queue_;
  IngestOptions opts_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::map<uint64_t, std::shared_ptr<Connection>> conns_;
  uint64_t next_id_ = 1;
  uint64_t lines_ = 0, malformed_ = 0;
  bool running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplink
