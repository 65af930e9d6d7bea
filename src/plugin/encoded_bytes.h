#pragma once
// Exactly `n` bytes written as hex or base64 (padded or not; spaces and line
// breaks inside base64 are ignored): model public keys and signatures.
#include <sodium.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uplink::plugin {

inline std::optional<std::string> decode_hex_or_base64(std::string_view text, size_t n) {
  std::vector<unsigned char> out(n);
  size_t len = 0;
  if (text.size() == 2 * n && sodium_hex2bin(out.data(), n, text.data(), text.size(), nullptr, &len, nullptr) == 0 &&
      len == n)
    return std::string(reinterpret_cast<char*>(out.data()), n);
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING}) {
    if (sodium_base642bin(out.data(), n, text.data(), text.size(), " \r\n", &len, nullptr, variant) == 0 && len == n)
      return std::string(reinterpret_cast<char*>(out.data()), n);
  }
  return std::nullopt;
}

}  // namespace uplink::plugin
