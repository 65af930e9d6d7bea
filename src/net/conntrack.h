#pragma once
// Moving flows off a link: delete only the conntrack entries whose ct mark
// says they were classified onto it. Their next packet is a new flow again:
// classified by nft, routed by the new link's table, NATed anew there.
// Entries on healthy links never notice (mwan3 flushes everything).
#include <functional>
#include <memory>

#include "common/result.h"

namespace uplink {

class Conntrack {
 public:
  using FlushDone = std::function<void(Result<size_t>)>;
  virtual ~Conntrack() = default;
  // Deletes every entry (IPv4 and IPv6) with (ct mark & mask) == mark; returns how many.
  virtual Result<size_t> flush_mark(uint32_t mark, uint32_t mask) = 0;
  // The same without waiting for it: `done` gets the result later, on the
  // caller's thread (AsyncConntrackFlusher: a worker does the flush). This
  // default flushes at once and calls `done` before returning.
  virtual void flush_mark_async(uint32_t mark, uint32_t mask, FlushDone done) { done(flush_mark(mark, mask)); }
};

// ctnetlink (libnetfilter_conntrack builds the filter, libmnl carries the
// messages): one dump filtered by mark in the kernel (CTA_MARK/CTA_MARK_MASK,
// so other links' entries are not even copied to us), the mark re-checked,
// then deletes by original tuple in batches (many requests per sendmsg).
// A socket per call: nothing to keep consistent between flushes, and safe to
// call from any thread. It runs after routing has switched, so its cost (see
// README) is off the failover path; AsyncConntrackFlusher moves it off the
// io_context thread too.
class NfConntrack final : public Conntrack {
 public:
  // Checks that ctnetlink can be opened (root / CAP_NET_ADMIN).
  static Result<std::unique_ptr<NfConntrack>> open();
  Result<size_t> flush_mark(uint32_t mark, uint32_t mask) override;

 private:
  NfConntrack() = default;
};

}  // namespace uplink
