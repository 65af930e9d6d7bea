#pragma once
// uplinkctl's side of the control protocol: a blocking client (the CLI does
// one thing at a time; only the daemon must never block).
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace uplink::cli {

using Json = nlohmann::json;

// The socket path: --socket, else $UPLINKD_SOCKET, else the default.
inline constexpr const char* kDefaultSocket = "/run/uplinkd/control.sock";
std::string resolve_socket_path(const std::string& flag);

class ControlClient {
 public:
  ControlClient() = default;
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // "cannot connect to PATH: REASON (is uplinkd running?)" on failure.
  Result<void> connect(const std::string& path);
  // Sends one request and waits (bounded) for its response line.
  Result<Json> request(const Json& req);
  // Sends an events follow request, then calls on_event for every event line
  // until the daemon closes the connection or on_event returns false. With
  // out_fd (where on_event writes, e.g. stdout), it also ends as soon as that
  // fd's reader goes away (a pipe whose reader exited), not at the next event.
  Result<void> follow(const Json& req, const std::function<bool(const Json&)>& on_event, int out_fd = -1);

 private:
  Result<std::string> read_line(int timeout_ms);
  Result<void> send_all(const std::string& data);

  int fd_ = -1;
  std::string path_;
  std::string buf_;
};

}  // namespace uplink::cli
