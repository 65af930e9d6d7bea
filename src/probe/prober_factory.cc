#include "probe/prober_factory.h"

#include "probe/prober_icmp.h"
#include "probe/prober_tcp.h"
#include "probe/prober_udp.h"

namespace uplink::probe {

std::unique_ptr<Prober> RealProberFactory::make(const LinkConfig& link) {
  LinkBinding b{link.interface, link.fwmark, link.probe.source};
  switch (link.probe.method) {
    case ProbeMethod::icmp: return std::make_unique<IcmpProber>(io_, b);
    case ProbeMethod::udp: return std::make_unique<UdpProber>(io_, b, UdpProber::Mode::echo);
    case ProbeMethod::dns: return std::make_unique<UdpProber>(io_, b, UdpProber::Mode::dns, link.probe.dns_name);
    case ProbeMethod::tcp: return std::make_unique<TcpProber>(io_, b, TcpProber::Mode::connect);
    case ProbeMethod::http: return std::make_unique<TcpProber>(io_, b, TcpProber::Mode::http, link.probe.http_path);
  }
  return std::make_unique<IcmpProber>(io_, b);
}

}  // namespace uplink::probe
