#pragma once
// Stream probers. tcp: a connect to the target port (80 by default); an
// established connection OR a RST (connection refused) both count as a
// reply, because either one proves the path to the target works both ways
// — only silence (timeout) or a local/ICMP error is a failure. http: a
// minimal HTTP/1.0 GET of http_path over such a connection (port 80 by
// default); a status line with a status below 500 within the timeout is a
// reply, reading at most 1 KiB. One socket per probe, bound to the link.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "probe/prober.h"
#include "probe/socket_binding.h"

namespace uplink::probe {

class TcpProber final : public Prober {
 public:
  enum class Mode { connect, http };
  TcpProber(boost::asio::io_context& io, LinkBinding binding, Mode mode, std::string http_path = "/");
  ~TcpProber() override { *alive_ = false; }

  void probe(const ProbeTarget& target, Duration timeout, std::function<void(ProbeResult)> done) override;
  uint64_t bytes_sent() const override { return bytes_; }

 private:
  boost::asio::io_context& io_;
  LinkBinding binding_;
  Mode mode_;
  std::string http_path_;
  uint64_t bytes_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The status code of an HTTP status line ("HTTP/1.1 204 No Content\r\n"), or
// nullopt while the line is incomplete or malformed.
std::optional<int> parse_http_status(const std::string& head);

}  // namespace uplink::probe
