#pragma once
#include <boost/asio/ip/address.hpp>
#include <cstring>

#include "common/ip.h"

namespace uplink::probe {

inline boost::asio::ip::address to_asio(const IpAddress& a) {
  if (a.is_v4()) {
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), a.bytes.data(), 4);
    return boost::asio::ip::address_v4(b);
  }
  boost::asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), a.bytes.data(), 16);
  return boost::asio::ip::address_v6(b);
}

}  // namespace uplink::probe
