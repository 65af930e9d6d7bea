#pragma once
// The run-time control socket: a unix stream socket, one request line per
// connection, answered and closed (see command.h for the protocol).
#include <string>

#include "common/result.h"
#include "linkemu/direction.h"

namespace uplink::linkemu {

// Executes one request against the two directions; returns the reply text.
std::string handle_request(const std::string& line, Direction& a2b, Direction& b2a);

// Serves `path` until SIGINT/SIGTERM (blocked and read through a signalfd).
Result<void> serve_control(const std::string& path, Direction& a2b, Direction& b2a);

// Client side: sends `request`, prints the reply; exit code 0 unless the reply is an error.
int control_client(const std::string& path, const std::string& request);

}  // namespace uplink::linkemu
