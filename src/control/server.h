#pragma once
// The control-socket server: accepts unix stream connections, frames and
// validates requests (protocol.h), hands each to a RequestHandler on the
// io_context thread, and streams events to followers.
//
//   client --line--> Connection --Request--> RequestHandler (daemon)
//                        ^                        |
//                        +------- Reply ----------+
//   Daemon event bus --publish()--> every following Connection (bounded queue)
//
// Nothing here blocks: reads and writes are async, every connection has a
// read deadline and a write-queue cap, so one slow or hostile client costs
// at most its own connection.
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "control/peer.h"
#include "control/protocol.h"

namespace uplink::control {

using namespace std::chrono_literals;

struct ServerOptions {
  std::string path;                        // socket file
  std::optional<gid_t> group;              // chgrp the socket file to this group (mode stays 0660)
  size_t max_request_bytes = kMaxRequestBytes;
  Duration read_timeout = 5s;              // to deliver one complete request line
  size_t max_connections = 64;
  size_t max_queued_bytes = 1 << 20;       // per connection; a follower above it is dropped
  const class VerbRegistry* verbs = nullptr;  // module verbs accepted besides the core commands
};

// What the daemon answers to one request.
struct Reply {
  bool ok = true;
  Json result;
  std::string error;
  bool follow_events = false;  // keep the connection open and stream events to it

  static Reply success(Json r) { return Reply{true, std::move(r), {}, false}; }
  static Reply failure(std::string message) { return Reply{false, {}, std::move(message), false}; }
  static Reply follow(Json ack) { return Reply{true, std::move(ack), {}, true}; }
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Runs on the io_context thread; must not block.
  virtual Reply handle(const Request& request) = 0;
};

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, TimeSource& time, RequestHandler& handler, const PeerPolicy& peers,
                ServerOptions options);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the parent directory (0755) if missing, removes a stale socket
  // file (one nobody answers on), refuses to start when another process
  // answers, binds with mode 0660 and starts accepting.
  Result<void> start();
  // Closes every connection and removes the socket file.
  void stop();

  // Sends one event line to every follower. A follower whose queue is over
  // the cap is disconnected (the client sees EOF and may reconnect).
  void publish(const Json& event);

  size_t connections() const { return conns_.size(); }
  size_t followers() const;
  const std::string& path() const { return opts_.path; }

 private:
  class Connection;
  friend class Connection;

  void accept();
  void on_accept(boost::asio::local::stream_protocol::socket sock);
  void remove(uint64_t id) { conns_.erase(id); }

  TimeSource& time_;
  RequestHandler& handler_;
  const PeerPolicy& peers_;
  ServerOptions opts_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::unique_ptr<Timer> accept_retry_;
  std::map<uint64_t, std::shared_ptr<Connection>> conns_;
  uint64_t next_id_ = 1;
  bool running_ = false;
  bool bound_ = false;
  // Guards the accept handler: it may be queued when the server goes away.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplink::control
