#pragma once
// NetlinkMonitor on a libnl socket joined to the rtnetlink groups, read
// non-blocking from the io_context (FdWatch).
// Overflow (ENOBUFS: we missed events) is reported as a route event plus a
// link event with ifindex 0, so the consumer re-reads everything.
#include <boost/asio/io_context.hpp>
#include <map>
#include <string>

#include "common/fd_watch.h"
#include "net/netlink.h"

struct nl_sock;
struct nl_msg;

namespace uplink {

class LibnlMonitor final : public NetlinkMonitor {
 public:
  explicit LibnlMonitor(boost::asio::io_context& io) : watch_(io) {}
  ~LibnlMonitor() override;
  Result<void> start(Handler handler) override;
  void stop() override;

 private:
  void drain();
  static int on_message(nl_msg* msg, void* self);

  nl_sock* sock_ = nullptr;
  FdWatch watch_;
  Handler handler_;
  std::map<int, std::string> names_;  // ifindex -> name, for address events of known links
};

}  // namespace uplink
