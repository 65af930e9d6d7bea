#include "net/libnftables.h"

#include <nftables/libnftables.h>

#include "net/kernel_state.h"

namespace uplink {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<std::unique_ptr<LibNftables>> LibNftables::open() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return make_error("nftables: cannot create a libnftables context");
  nft_ctx_buffer_output(ctx);
  // Listings without set elements or counters: the sticky sets and the guard's
  // counters change with traffic, the programmer compares listings to detect
  // edits of the table's structure.
  nft_ctx_output_set_flags(ctx, nft_ctx_output_get_flags(ctx) | NFT_CTX_OUTPUT_TERSE | NFT_CTX_OUTPUT_STATELESS);
  nft_ctx_buffer_error(ctx);
  return std::unique_ptr<LibNftables>(new LibNftables(ctx));
}

LibNftables::~LibNftables() { nft_ctx_free(ctx_); }

Result<void> LibNftables::run(const std::string& script) {
  int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
  std::string err = nft_ctx_get_error_buffer(ctx_);
  if (rc != 0) return make_error("nft: " + trim(err));
  return {};
}

Result<void> LibNftables::check(const std::string& script) {
  nft_ctx_set_dry_run(ctx_, true);
  int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
  nft_ctx_set_dry_run(ctx_, false);
  std::string err = nft_ctx_get_error_buffer(ctx_);
  if (rc != 0) return make_error("nft (check): " + trim(err));
  return {};
}

Result<std::optional<std::string>> LibNftables::list_table() {
  // (appended, not `std::string(...) + kNftTable`: GCC 12 warns a false -Warray-bounds on that)
  std::string cmd = "list table inet ";
  cmd += kNftTable;
  int rc = nft_run_cmd_from_buffer(ctx_, cmd.c_str());
  std::string out = nft_ctx_get_output_buffer(ctx_);
  std::string err = nft_ctx_get_error_buffer(ctx_);
  if (rc != 0) {
    if (err.find("No such file or directory") != std::string::npos) return std::optional<std::string>();
    return make_error("nft: " + cmd + ": " + trim(err));
  }
  return std::optional<std::string>(out);
}

}  // namespace uplink
