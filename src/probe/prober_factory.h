#pragma once
// The real probers, one per link, all on the daemon's one io_context.
#include <boost/asio/io_context.hpp>

#include "probe/prober.h"

namespace uplink::probe {

class RealProberFactory final : public ProberFactory {
 public:
  explicit RealProberFactory(boost::asio::io_context& io) : io_(io) {}
  std::unique_ptr<Prober> make(const LinkConfig& link) override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace uplink::probe
