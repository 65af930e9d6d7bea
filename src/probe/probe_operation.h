#pragma once
// One in-flight probe on a socket of its own (tcp, http, udp, dns): whichever
// comes first — reply, error or timeout — finishes it exactly once, and the
// prober's callback runs only while the prober still exists.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>

#include "probe/prober.h"

namespace uplink::probe {

template <class Socket>
struct ProbeOperation {
  explicit ProbeOperation(boost::asio::io_context& io) : sock(io), timer(io) {}

  Socket sock;
  boost::asio::steady_timer timer;
  TimePoint sent;
  std::string peer;  // "address:port", for messages
  std::function<void(ProbeResult)> done;
  std::shared_ptr<bool> alive;  // false once the prober is destroyed
  bool finished = false;

  void finish(ProbeResult r) {
    if (finished) return;
    finished = true;
    timer.cancel();
    boost::system::error_code ignored;
    sock.close(ignored);
    if (*alive) done(std::move(r));
  }
  void ok() { finish(ProbeResult{ProbeOutcome::reply, SteadyClock::now() - sent, {}}); }
  void timed_out() { finish(ProbeResult{ProbeOutcome::timeout, {}, {}}); }
  void error(const std::string& what) { finish(ProbeResult{ProbeOutcome::error, {}, what}); }
};

}  // namespace uplink::probe
