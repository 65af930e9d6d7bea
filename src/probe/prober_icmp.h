#pragma once
// ICMP / ICMPv6 echo prober: one raw socket per address family per link,
// bound to the link's device and mark, on the daemon's io_context. uplinkd
// runs as root, so raw sockets avoid ping_group_range. Raw ICMP sockets see
// every echo reply on the device; replies are matched on identifier,
// sequence, nonce and source address.
//
// A reply's RTT ends at the kernel's receive timestamp (SO_TIMESTAMPNS), not
// when the io_context got round to reading it: on a busy router the time a
// reply waits for the daemon to be scheduled is not network delay. A probe's
// timer that fires reads what is already queued first, so a reply that came
// in time is credited even when the daemon wakes late.
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <random>

#include "probe/icmp_codec.h"
#include "probe/neighbour_confirm.h"
#include "probe/prober.h"
#include "probe/socket_binding.h"

namespace uplink::probe {

class IcmpProber final : public Prober {
 public:
  IcmpProber(boost::asio::io_context& io, LinkBinding binding);
  ~IcmpProber() override;

  void probe(const ProbeTarget& target, Duration timeout, std::function<void(ProbeResult)> done) override;
  uint64_t bytes_sent() const override { return bytes_; }
  void set_late_handler(LateHandler h) override { on_late_ = std::move(h); }
  void reset() override;

 private:
  struct Pending {
    ProbeTarget target;
    uint64_t nonce = 0;
    TimePoint sent;
    Duration timeout{};
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::function<void(ProbeResult)> done;
  };
  struct Family {
    std::unique_ptr<boost::asio::posix::stream_descriptor> sock;
  };

  Result<void> open(bool v6);
  void receive(bool v6);
  // Reads every queued reply (bounded), each with its kernel receive time.
  void drain(bool v6);
  void on_packet(bool v6, const uint8_t* data, size_t len, const IpAddress& from, TimePoint received);
  void finish(uint16_t seq, ProbeResult r);
  void complete(std::function<void(ProbeResult)> done, ProbeResult r);

  boost::asio::io_context& io_;
  LinkBinding binding_;
  std::mt19937_64 rng_;
  uint16_t id_;
  uint16_t seq_ = 0;
  uint64_t bytes_ = 0;
  Family fam_[2];
  std::map<uint16_t, Pending> pending_;
  std::deque<std::pair<uint16_t, Pending>> timed_out_;  // recent, to recognise late replies
  LateHandler on_late_;
  NeighbourConfirm confirm_;  // replies are recent: keep the gateway's neighbour entry fresh
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplink::probe
