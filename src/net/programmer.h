#pragma once
// Programmer: makes the kernel hold exactly the desired KernelState.
//
//   apply(desired)  fast path, on every decision: diff against what we last
//                   programmed (no kernel read, no conntrack), write only the
//                   difference: a policy change is one nft transaction that
//                   rewrites the policy's chain (and its sticky rules' chains,
//                   flushing the pins of links that left). Right after (a
//                   zero timer, off the decision path) the table is listed
//                   again: unchanged outside those chains -> that listing is
//                   the reference for sync(), so no reload empties the pins.
//   sync()          slow path: read back what the kernel holds of ours (routes
//                   and rules with rtm_protocol kOwnedProtocol, the nft table)
//                   and repair it. On start (adopts what a crashed predecessor
//                   left, removes the rest), after netlink says someone touched
//                   routes or rules or NftChangeMonitor says someone touched
//                   our table (debounced), periodically as a safety net, and
//                   as the retry after a failure, with exponential backoff.
//   remove_all()    on stop: delete every route, rule and the nft table we own
//                   (with fail_closed: all but the private-traffic guard).
//
// Owners: `apply()` takes routing's desired state; other modules set theirs
// through KernelObjects (kernel_objects.h). The kernel is programmed with the
// union, so a route that another live owner desires is never removed as
// "foreign", and one that no owner desires any more goes.
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "net/kernel_objects.h"
#include "net/kernel_state.h"
#include "net/netlink.h"
#include "net/nftables.h"

namespace uplink {

struct ProgrammerTuning {
  Duration debounce = std::chrono::milliseconds(50);     // after a netlink event, before sync
  Duration retry_min = std::chrono::milliseconds(100);   // first retry after a failure
  Duration retry_max = std::chrono::seconds(30);
  Duration verify_every = std::chrono::seconds(30);      // periodic sync (a safety net: events can be lost)
};

class Programmer {
 public:
  // `shared`: the other owners' objects (nullptr: routing's only). Must outlive the programmer.
  Programmer(Netlink& netlink, Nftables& nft, TimeSource& time, ProgrammerTuning tuning = {},
             KernelObjects* shared = nullptr);
  ~Programmer();

  // Sets the desired state and writes the difference. On failure a retry (a
  // full sync) is scheduled with backoff; the error is returned for the log.
  Result<void> apply(const KernelState& desired);
  // Reads the kernel back and repairs. Also re-arms the periodic verification.
  Result<void> sync();
  // Someone changed routes/rules or our nft table: sync after the debounce delay.
  void schedule_sync();
  // Deletes everything we own (read back from the kernel, so also what a
  // predecessor left) and stops all timers. `keep_guard` (daemon.fail_closed):
  // the table is replaced by the private-traffic guard alone, in the same
  // transaction, so private traffic stays dropped while uplinkd is not running.
  Result<void> remove_all(bool keep_guard = false);

  const std::optional<KernelState>& desired() const { return desired_; }
  int syncs() const { return syncs_; }
  bool retry_pending() const { return retry_timer_->armed(); }

 private:
  Result<void> write_diff(const KernelState& from, const KernelState& to);
  Result<void> write_nft(const NftState& from, const NftState& to);
  Result<KernelState> read_back();
  void on_failure(const Error& e);
  // After chain updates: takes the new reference listing if the rest of the
  // table is unchanged; false (no reference: the next sync reloads) if not.
  bool refresh_listing();

  Netlink& netlink_;
  Nftables& nft_;
  TimeSource& time_;
  ProgrammerTuning tuning_;
  KernelObjects* shared_;
  std::optional<KernelState> base_;     // routing's
  std::optional<KernelState> desired_;  // base_ + every other owner's objects
  std::optional<KernelState> applied_;  // what the kernel holds, as far as we know; nullopt = unknown
  std::optional<std::string> nft_listing_;  // `list table` after our last load (and chain updates since)
  std::set<std::string> rewritten_;         // chains updated since nft_listing_ was taken
  Duration backoff_{};
  int syncs_ = 0;
  std::unique_ptr<Timer> retry_timer_, debounce_timer_, verify_timer_, listing_timer_;
};

// The nft script that replaces uplinkd's table atomically (also when absent).
std::string nft_full_load(const NftState& state);

}  // namespace uplink
