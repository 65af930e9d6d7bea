#pragma once
// The seam between the link state machine and the network: a Prober sends
// one probe to one target and reports exactly one outcome. Real probers
// (icmp, udp, tcp, dns, http) run on the daemon's io_context; tests use a
// scripted fake.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "config/config.h"

namespace uplink::probe {

enum class ProbeOutcome { reply, timeout, error };

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::timeout;
  Duration rtt{};     // reply only
  std::string error;  // error only: what failed ("sendto 203.0.113.1: Network is unreachable")
};

class Prober {
 public:
  // Destroying a prober drops its pending callbacks: none runs afterwards.
  virtual ~Prober() = default;
  // Sends one probe to `target`; calls `done` exactly once, never from inside
  // probe() itself: with the reply's RTT, or timeout after `timeout`, or an
  // error (a failed send counts as a failed probe).
  virtual void probe(const ProbeTarget& target, Duration timeout, std::function<void(ProbeResult)> done) = 0;
  // Bytes handed to the kernel for probes (IP header included), monotonic.
  virtual uint64_t bytes_sent() const = 0;
  // A reply that matched a probe which had already timed out, with its RTT.
  using LateHandler = std::function<void(const ProbeTarget&, Duration rtt)>;
  virtual void set_late_handler(LateHandler on_late) { (void)on_late; }
  // Drop sockets so the next probe opens fresh ones (the interface came back
  // with a new ifindex, or an address changed).
  virtual void reset() {}
};

class ProberFactory {
 public:
  virtual ~ProberFactory() = default;
  virtual std::unique_ptr<Prober> make(const LinkConfig& link) = 0;
};

}  // namespace uplink::probe
