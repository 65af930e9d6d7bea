#pragma once
// The nftables seam: run one script as one transaction, read uplinkd's table
// back. Real: LibNftables (libnftables); tests: FakeNftables (net/testing/).
#include <optional>
#include <string>

#include "common/result.h"

namespace uplink {

class Nftables {
 public:
  virtual ~Nftables() = default;
  // All commands of `script` commit atomically or not at all.
  virtual Result<void> run(const std::string& script) = 0;
  // Parses and evaluates `script` without committing anything (dry run).
  virtual Result<void> check(const std::string& script) = 0;
  // `nft -t list table inet uplinkd` (set elements omitted), or nullopt when the table does not exist.
  virtual Result<std::optional<std::string>> list_table() = 0;
};

}  // namespace uplink
