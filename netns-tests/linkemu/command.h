#pragma once
// The control protocol: one text line per request, one reply per connection.
//
//   set [dir=a2b|b2a|both] delay=50ms jitter=5ms reorder=0 loss=1 burst=4
//       rate=2000 queue=30000 rate_burst=3028 blackhole=1
//   clear [dir=...]        back to a transparent line
//   flush [dir=...]        drop frames waiting in the queue
//   show                   JSON: parameters, counters and queue per direction
//
// Replies: "ok", "error: <what>", or the JSON for show. `a` is the first
// interface (--a), so a2b is the direction a -> b.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "linkemu/link_model.h"

namespace uplink::linkemu {

struct Command {
  enum class Op { set, clear, flush, show };
  Op op = Op::show;
  bool a2b = true;
  bool b2a = true;
  std::vector<std::pair<std::string, std::string>> settings;  // key=value, in order
};

Result<Command> parse_command(std::string_view line);

// Applies key=value settings on top of `base`; rejects unknown keys and bad values.
Result<LinkParams> apply_settings(LinkParams base, const std::vector<std::pair<std::string, std::string>>& kv);

// "delay=50ms jitter=0ns loss=0 ..." as accepted by `set` (round-trips).
std::string format_params(const LinkParams& p);

}  // namespace uplink::linkemu
