#pragma once
// Datagram probers: udp (echo, port 7 by default: the payload carries a
// random nonce that the reply must echo) and dns (a query for dns_name type
// NS, port 53: any response with the query's id counts, even an error rcode,
// since it proves the path). One connected socket per probe, bound to the
// link: the kernel only delivers datagrams from the target's address/port.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <random>

#include "probe/neighbour_confirm.h"
#include "probe/prober.h"
#include "probe/socket_binding.h"

namespace uplink::probe {

class UdpProber final : public Prober {
 public:
  enum class Mode { echo, dns };
  UdpProber(boost::asio::io_context& io, LinkBinding binding, Mode mode, std::string dns_name = ".");
  ~UdpProber() override { *alive_ = false; }

  void probe(const ProbeTarget& target, Duration timeout, std::function<void(ProbeResult)> done) override;
  uint64_t bytes_sent() const override { return bytes_; }

 private:
  boost::asio::io_context& io_;
  LinkBinding binding_;
  Mode mode_;
  std::string dns_name_;
  std::mt19937_64 rng_;
  uint64_t bytes_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Shared with in-flight probes, which may outlive the prober.
  std::shared_ptr<NeighbourConfirm> confirm_ = std::make_shared<NeighbourConfirm>();
};

// A DNS query (RD set) for `name` type NS class IN with the given id.
std::vector<uint8_t> build_dns_query(uint16_t id, const std::string& name);
// True when `reply` is a DNS response (QR set) carrying `id`.
bool is_dns_response(const uint8_t* reply, size_t len, uint16_t id);

}  // namespace uplink::probe
