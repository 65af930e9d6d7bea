#include "tunnel/wg_uapi.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace uplink {

namespace {

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  auto p = kB64.find(c);
  return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

template <class T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> check_wg_key(std::string_view b) {
  if (b.size() != 44)
    return "is " + std::to_string(b.size()) + " characters long; a WireGuard key is 32 bytes in base64 (44 characters)";
  if (b[43] != '=' || b[42] == '=') return "must end with exactly one '=' (32 bytes in base64)";
  for (size_t i = 0; i < 43; ++i)
    if (b64_value(b[i]) < 0)
      return std::string("has a character outside the base64 alphabet ('") + b[i] + "' at " + std::to_string(i + 1) +
             ")";
  // 43 characters carry 258 bits: the last character's low 2 bits must be 0 (canonical form).
  if (b64_value(b[42]) & 0x3) return "is not canonical base64 (the last character's low bits are set)";
  return std::nullopt;
}

std::optional<WgKey> decode_wg_key(std::string_view b) {
  if (check_wg_key(b)) return std::nullopt;
  WgKey k{};
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (size_t i = 0; i < 43; ++i) {
    acc = (acc << 6) | static_cast<uint32_t>(b64_value(b[i]));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < k.size()) k[n++] = static_cast<uint8_t>((acc >> bits) & 0xff);
    }
  }
  if (n != k.size()) return std::nullopt;
  return k;
}

std::string wg_key_base64(const WgKey& k) {
  std::string out;
  size_t i = 0;
  for (; i + 3 <= k.size(); i += 3) {
    uint32_t v = (uint32_t(k[i]) << 16) | (uint32_t(k[i + 1]) << 8) | k[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 0x3f];
  }
  // 32 = 30 + 2 bytes left
  uint32_t v = (uint32_t(k[i]) << 16) | (uint32_t(k[i + 1]) << 8);
  out += kB64[(v >> 18) & 0x3f];
  out += kB64[(v >> 12) & 0x3f];
  out += kB64[(v >> 6) & 0x3f];
  out += '=';
  return out;
}

std::string wg_key_hex(const WgKey& k) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : k) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

std::optional<WgKey> wg_key_from_hex(std::string_view h) {
  if (h.size() != 64) return std::nullopt;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  WgKey k{};
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(h[2 * i]), lo = nib(h[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    k[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return k;
}

std::string WgEndpoint::to_string() const {
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
  return address.to_string() + ":" + std::to_string(port);
}

Result<WgEndpoint> parse_wg_endpoint(std::string_view text) {
  auto ep = IpEndpoint::parse(text);
  if (!ep)
    return make_error("endpoint '" + std::string(text) + "' " + ep.error().message +
                      " (numeric ip:port or [ipv6]:port only)");
  return WgEndpoint{ep->addr, ep->port};
}

namespace {
Result<std::string> peer_hex(const std::string& b64) {
  auto k = decode_wg_key(b64);
  if (!k) return make_error("peer public key is not a WireGuard key");
  return wg_key_hex(*k);
}
}  // namespace

Result<std::string> format_wg_set(const WgDeviceSpec& spec) {
  std::string out = "set=1\n";
  auto priv = decode_wg_key(spec.private_key);
  if (!priv) return make_error("private key is not a WireGuard key");
  out += "private_key=" + wg_key_hex(*priv) + "\n";
  if (spec.listen_port) out += "listen_port=" + std::to_string(*spec.listen_port) + "\n";
  out += "fwmark=" + std::to_string(spec.fwmark) + "\n";
  out += "replace_peers=true\n";
  for (const auto& p : spec.peers) {
    auto pub = peer_hex(p.public_key);
    if (!pub) return pub.error();
    out += "public_key=" + *pub + "\n";
    if (p.endpoint) out += "endpoint=" + p.endpoint->to_string() + "\n";
    out += "persistent_keepalive_interval=" + std::to_string(p.persistent_keepalive_s) + "\n";
    out += "replace_allowed_ips=true\n";
    for (const auto& a : p.allowed_ips) out += "allowed_ip=" + a.to_string() + "\n";
  }
  out += "\n";
  return out;
}

Result<std::string> format_wg_endpoint_update(const std::vector<WgPeerSpec>& peers) {
  std::string out = "set=1\n";
  for (const auto& p : peers) {
    if (!p.endpoint) continue;
    auto pub = peer_hex(p.public_key);
    if (!pub) return pub.error();
    out += "public_key=" + *pub + "\nupdate_only=true\nendpoint=" + p.endpoint->to_string() + "\n";
  }
  out += "\n";
  return out;
}

Result<int> parse_wg_errno(std::string_view reply) {
  size_t pos = 0;
  while (pos < reply.size()) {
    size_t nl = reply.find('\n', pos);
    std::string_view line = reply.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line.starts_with("errno=")) {
      auto v = parse_number<int64_t>(line.substr(6));
      if (!v) return make_error("UAPI: malformed errno line '" + std::string(line) + "'");
      return static_cast<int>(std::llabs(*v));
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return make_error("UAPI: reply without errno");
}

Result<WgDeviceStatus> parse_wg_get(std::string_view reply) {
  auto err = parse_wg_errno(reply);
  if (!err) return err.error();
  if (*err != 0) return make_error("UAPI get failed: errno " + std::to_string(*err) + " (" + strerror(*err) + ")");
  WgDeviceStatus dev;
  WgPeerStatus* peer = nullptr;
  size_t pos = 0;
  while (pos < reply.size()) {
    size_t nl = reply.find('\n', pos);
    if (nl == std::string_view::npos) nl = reply.size();
    std::string_view line = reply.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) break;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return make_error("UAPI: malformed line (no '=')");
    std::string_view key = line.substr(0, eq), val = line.substr(eq + 1);
    auto num = [&](auto& field) -> Result<void> {
      using T = std::remove_reference_t<decltype(field)>;
      auto v = parse_number<T>(val);
      if (!v) return make_error("UAPI: malformed value of " + std::string(key));
      field = *v;
      return {};
    };
    Result<void> r;
    if (key == "errno") break;
    if (key == "public_key") {
      auto k = wg_key_from_hex(val);
      if (!k) return make_error("UAPI: malformed public_key");
      dev.peers.emplace_back();
      peer = &dev.peers.back();
      peer->public_key = wg_key_base64(*k);
    } else if (!peer) {
      if (key == "private_key") dev.has_private_key = !val.empty() && val.find_first_not_of('0') != std::string_view::npos;
      else if (key == "listen_port") r = num(dev.listen_port);
      else if (key == "fwmark") r = num(dev.fwmark);
    } else {
      if (key == "endpoint") {
        auto e = parse_wg_endpoint(val);
        if (!e) return make_error("UAPI: malformed endpoint");
        peer->endpoint = *e;
      } else if (key == "last_handshake_time_sec") r = num(peer->last_handshake_sec);
      else if (key == "last_handshake_time_nsec") r = num(peer->last_handshake_nsec);
      else if (key == "rx_bytes") r = num(peer->rx_bytes);
      else if (key == "tx_bytes") r = num(peer->tx_bytes);
      else if (key == "persistent_keepalive_interval") r = num(peer->persistent_keepalive_s);
      else if (key == "allowed_ip") {
        if (auto a = IpPrefix::parse(val)) peer->allowed_ips.push_back(*a);
      }
      // preshared_key, protocol_version and anything newer: not ours.
    }
    if (!r) return r.error();
  }
  return dev;
}

std::string wg_socket_path(std::string_view dir, std::string_view ifname) {
  return std::string(dir) + "/" + std::string(ifname) + ".sock";
}

// ---- AsioUapiClient
//
//   exchange(): connect --> write request --> read until "\n\n" --> done(reply)
//                 \___________ deadline timer: close the socket ___/  -> done(error)
// Exactly one of the paths calls done; the state lives in a shared_ptr held by
// every pending handler.

AsioUapiClient::AsioUapiClient(boost::asio::io_context& io, std::string socket_dir, Duration timeout)
    : io_(io), dir_(std::move(socket_dir)), timeout_(timeout) {}

namespace {
struct Exchange {
  Exchange(boost::asio::io_context& io) : socket(io), timer(io) {}
  boost::asio::local::stream_protocol::socket socket;
  boost::asio::steady_timer timer;
  std::string request;
  std::string reply;
  std::function<void(Result<std::string>)> done;
  std::string what;
  void finish(Result<std::string> r) {
    if (!done) return;
    auto d = std::move(done);
    done = nullptr;
    timer.cancel();
    boost::system::error_code ec;
    socket.close(ec);
    d(std::move(r));
  }
};
}  // namespace

void AsioUapiClient::exchange(const std::string& ifname, std::string request,
                              std::function<void(Result<std::string>)> done) {
  auto x = std::make_shared<Exchange>(io_);
  x->request = std::move(request);
  x->done = std::move(done);
  x->what = wg_socket_path(dir_, ifname);
  x->timer.expires_after(timeout_);
  x->timer.async_wait([x](const boost::system::error_code& ec) {
    if (ec) return;
    x->finish(make_error("UAPI " + x->what + ": no answer within the timeout"));
  });
  x->socket.async_connect(
      boost::asio::local::stream_protocol::endpoint(x->what), [x](const boost::system::error_code& ec) {
        if (ec) return x->finish(make_error("UAPI " + x->what + ": connect failed: " + ec.message()));
        boost::asio::async_write(x->socket, boost::asio::buffer(x->request),
                                 [x](const boost::system::error_code& ec, size_t) {
                                   if (ec) return x->finish(make_error("UAPI " + x->what + ": write failed: " + ec.message()));
                                   boost::asio::async_read_until(
                                       x->socket, boost::asio::dynamic_buffer(x->reply), "\n\n",
                                       [x](const boost::system::error_code& ec, size_t n) {
                                         if (ec)
                                           return x->finish(
                                               make_error("UAPI " + x->what + ": read failed: " + ec.message()));
                                         x->reply.resize(n);
                                         x->finish(std::move(x->reply));
                                       });
                                 });
      });
}

void AsioUapiClient::get(const std::string& ifname, GetDone done) {
  exchange(ifname, std::string(kWgGetRequest), [done = std::move(done)](Result<std::string> r) {
    if (!r) return done(r.error());
    done(parse_wg_get(*r));
  });
}

void AsioUapiClient::set(const std::string& ifname, std::string request, SetDone done) {
  exchange(ifname, std::move(request), [done = std::move(done)](Result<std::string> r) {
    if (!r) return done(r.error());
    auto e = parse_wg_errno(*r);
    if (!e) return done(e.error());
    if (*e != 0) return done(make_error("UAPI set failed: errno " + std::to_string(*e) + " (" + strerror(*e) + ")"));
    done(Result<void>{});
  });
}

bool AsioUapiClient::device_present(const std::string& ifname) {
  std::string path = wg_socket_path(dir_, ifname);
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) return false;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

}  // namespace uplink
