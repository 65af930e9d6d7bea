#include "common/ip.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>

namespace uplink {

Result<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  // inet_pton stops at a NUL: "1.2.3.4\0junk" must not pass as 1.2.3.4.
  if (s.find('\0') != std::string::npos) return make_error("invalid IP address (contains a NUL character)");
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return make_error("invalid IP address '" + s + "'");
}

bool IpAddress::is_v4() const { return family == AF_INET; }
bool IpAddress::is_v6() const { return family == AF_INET6; }

std::string IpAddress::to_string() const {
  if (!valid()) return "";
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

Result<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return make_error("invalid prefix '" + std::string(text) + "': " + addr.error().message);
  IpPrefix p;
  p.addr = *addr;
  int max = addr->is_v4() ? 32 : 128;
  if (slash == std::string_view::npos) {
    p.length = max;
    return p;
  }
  auto len = text.substr(slash + 1);
  int n = -1;
  auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (ec != std::errc() || ptr != len.data() + len.size() || n < 0 || n > max) {
    return make_error("invalid prefix '" + std::string(text) + "': length must be 0.." + std::to_string(max));
  }
  p.length = n;
  for (int bit = n; bit < max; ++bit) {
    if (p.addr.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return make_error("invalid prefix '" + std::string(text) + "': host bits set (did you mean a network address?)");
    }
  }
  return p;
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != addr.family) return false;
  for (int bit = 0; bit < length; ++bit) {
    uint8_t m = 0x80 >> (bit % 8);
    if ((a.bytes[bit / 8] & m) != (addr.bytes[bit / 8] & m)) return false;
  }
  return true;
}

std::string IpPrefix::to_string() const { return addr.to_string() + "/" + std::to_string(length); }

Result<IpEndpoint> IpEndpoint::parse(std::string_view text) {
  std::string_view host, port;
  bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error("is not [ipv6]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return make_error("has no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return make_error("has an IPv6 address without brackets");
  }
  auto addr = IpAddress::parse(host);
  if (!addr) return make_error("is not a numeric address");
  if (bracketed && !addr->is_v6()) return make_error("has an IPv4 address in brackets");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535)
    return make_error("has no valid port (1-65535)");
  return IpEndpoint{*addr, static_cast<uint16_t>(value)};
}

std::string IpEndpoint::to_string() const {
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" + std::to_string(port);
}

}  // namespace uplink
