#pragma once
// Replaces a file's contents so that a crash leaves either the old or the
// new file, never a torn one: temp file in the same directory, fsync, rename,
// fsync of the directory. Keeps the original file's mode (and owner, when
// running as root).
#include <string>

#include "common/result.h"

namespace uplink {

Result<void> write_file_atomically(const std::string& path, const std::string& text);

}  // namespace uplink
