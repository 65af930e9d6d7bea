#pragma once
// Nftables over libnftables: each run() is one nft_run_cmd_from_buffer call,
// which the library commits as one netlink batch (atomic).
#include <memory>

#include "net/nftables.h"

struct nft_ctx;

namespace uplink {

class LibNftables final : public Nftables {
 public:
  static Result<std::unique_ptr<LibNftables>> open();
  ~LibNftables() override;
  Result<void> run(const std::string& script) override;
  Result<void> check(const std::string& script) override;
  Result<std::optional<std::string>> list_table() override;

 private:
  explicit LibNftables(nft_ctx* ctx) : ctx_(ctx) {}
  nft_ctx* ctx_;
};

}  // namespace uplink
