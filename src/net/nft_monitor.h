#pragma once
// Who else changed uplinkd's nftables table: a `nft flush ruleset` from a
// firewall reload, an administrator's `nft delete rule inet uplinkd ...`.
// nftables has no rtnetlink-style "route changed" event for us to reuse, but
// every committed transaction is announced on NFNLGRP_NFTABLES: one message
// per touched object, then NFT_MSG_NEWGEN with the committing process's pid.
// A transaction that touched table `inet uplinkd` and was committed by another
// process is reported once; uplinkd's own transactions are not. (The kernel
// names the committing thread: uplinkd commits from its main thread, whose id
// is the process id.)
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"
#include "common/fd_watch.h"

struct mnl_socket;

namespace uplink {

// The seam (tests: a fake that calls the handler when told).
class NftChangeMonitor {
 public:
  using Handler = std::function<void()>;
  virtual ~NftChangeMonitor() = default;
  virtual Result<void> start(Handler on_foreign_change) = 0;
  virtual void stop() = 0;
};

// Decodes a buffer of nftables event messages (pure; unit-tested with built messages).
class NftEventFilter {
 public:
  NftEventFilter(std::string table, uint8_t family, uint32_t own_pid)
      : table_(std::move(table)), family_(family), own_pid_(own_pid) {}
  // True when a transaction in `buf` that touched the table was committed by
  // another process (or by one the kernel does not name).
  bool foreign_change(const void* buf, size_t len);

 private:
  std::string table_;
  uint8_t family_;
  uint32_t own_pid_;
  bool touched_ = false;  // the current transaction touched the table (carried across reads)
};

// The real monitor: a netfilter netlink socket in NFNLGRP_NFTABLES, read from
// the io_context. Lost events (ENOBUFS) count as a foreign change.
class LibmnlNftMonitor final : public NftChangeMonitor {
 public:
  explicit LibmnlNftMonitor(boost::asio::io_context& io);
  ~LibmnlNftMonitor() override;
  Result<void> start(Handler on_foreign_change) override;
  void stop() override;

 private:
  void drain();

  mnl_socket* sock_ = nullptr;
  FdWatch watch_;
  NftEventFilter filter_;
  Handler handler_;
};

}  // namespace uplink
