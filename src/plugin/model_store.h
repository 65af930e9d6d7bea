#pragma once
// A plugin's models on disk (ARCHITECTURE.md §3 "Plugins": checked, installed
// beside the old one, switched atomically, rolled back).
//
//   model_dir/
//     versions/<version>/model       the file as installed (read-only copy)
//     versions/<version>/meta.json   {"version","sha256","size","signed","installed_at","source"}
//     current  -> versions/<version>  symlink, replaced by rename(2): atomic
//     previous -> versions/<version>  what `rollback` returns to
//
// <version> is the first 16 hex digits of the file's SHA-256. A signature is
// a detached Ed25519 signature of the file's bytes (64 bytes: raw, base64 or
// hex); when the store has a public key, install refuses an unsigned or badly
// signed file. Old versions beyond the current and previous one are removed.
// Blocking file I/O: models are small and installs are rare (an operator
// command); a 10 MB model is hashed in well under 100 ms.
#include <optional>
#include <string>

#include "common/result.h"

namespace uplink::plugin {

struct ModelInfo {
  std::string version;
  std::string sha256;
  std::string path;  // the model file (through versions/<version>, not the symlink)
  uint64_t size = 0;
  bool is_signed = false;
  std::string installed_at;
  std::string source;
};

class ModelStore {
 public:
  // public_key: 32 raw bytes, or empty (then signatures are not required).
  ModelStore(std::string dir, std::string public_key);

  // Checks (size, hash, signature) and copies `file` into versions/; does not
  // switch. Installing the current version again is an error.
  Result<ModelInfo> stage(const std::string& file, const std::optional<std::string>& signature_file,
                          const std::string& installed_at);
  // current := version (which must be staged), previous := the old current.
  Result<void> activate(const std::string& version);
  // current := previous, previous := none. Without a previous model: when
  // allow_none, current is removed (the plugin runs without a model); else an error.
  Result<std::optional<ModelInfo>> rollback(bool allow_none);

  std::optional<ModelInfo> current() const;
  std::optional<ModelInfo> previous() const;
  const std::string& dir() const { return dir_; }

 private:
  std::optional<ModelInfo> read_link(const char* name) const;
  Result<void> set_link(const char* name, const std::optional<std::string>& version);
  void prune();
  std::string dir_;
  std::string public_key_;
};

// Hex SHA-256 of a file (libsodium); an error names the file and the reason.
Result<std::string> sha256_file(const std::string& path);

}  // namespace uplink::plugin
