#include "net/programmer.h"

#include <algorithm>
#include <set>

#include "common/log.h"

namespace uplink {

namespace {

auto log() { return get_logger("net"); }

const std::string kTable = std::string("inet ") + kNftTable;

}  // namespace

std::string nft_full_load(const NftState& state) {
  // Create-if-missing then delete makes the delete safe; the table text then
  // recreates it. One buffer = one transaction: no moment without the table.
  return "table " + kTable + " {}\ndelete table " + kTable + "\n" + state.render();
}

Programmer::Programmer(Netlink& netlink, Nftables& nft, TimeSource& time, ProgrammerTuning tuning)
    : netlink_(netlink),
      nft_(nft),
      time_(time),
      tuning_(tuning),
      backoff_(tuning.retry_min),
      retry_timer_(time.make_timer()),
      debounce_timer_(time.make_timer()),
      verify_timer_(time.make_timer()) {}

Programmer::~Programmer() = default;

Result<void> Programmer::apply(const KernelState& desired) {
  desired_ = desired;
  if (!applied_) return sync();
  auto ok = write_diff(*applied_, desired);
  if (!ok) {
    on_failure(ok.error());
    return ok;
  }
  applied_ = desired;
  return {};
}

void Programmer::schedule_sync() {
  if (!desired_ || debounce_timer_->armed()) return;
  debounce_timer_->arm(tuning_.debounce, [this] { (void)sync(); });
}

Result<void> Programmer::sync() {
  if (!desired_) return {};
  ++syncs_;
  debounce_timer_->cancel();
  verify_timer_->arm(tuning_.verify_every, [this] { (void)sync(); });
  auto actual = read_back();
  if (!actual) {
    on_failure(actual.error());
    return actual.error();
  }
  // The nft table read back is compared as text with the listing taken after
  // our last full load; any difference (or no listing yet) means reload.
  auto ok = write_diff(*actual, *desired_);
  if (!ok) {
    applied_.reset();
    on_failure(ok.error());
    return ok;
  }
  applied_ = desired_;
  retry_timer_->cancel();
  backoff_ = tuning_.retry_min;
  return {};
}

void Programmer::on_failure(const Error& e) {
  applied_.reset();  // unknown now: the retry reads the kernel back
  log()->warn("programming failed: {}; full resync in {} ms", e.message,
              std::chrono::duration_cast<std::chrono::milliseconds>(backoff_).count());
  retry_timer_->arm(backoff_, [this] { (void)sync(); });
  backoff_ = std::min(backoff_ * 2, tuning_.retry_max);
}

Result<KernelState> Programmer::read_back() {
  KernelState ks;
  auto routes = netlink_.list_default_routes();
  if (!routes) return routes.error();
  for (const auto& r : *routes)
    if (r.protocol == kOwnedProtocol) ks.routes.push_back(r.route);
  auto rules = netlink_.list_rules();
  if (!rules) return rules.error();
  for (const auto& r : *rules)
    if (r.protocol == kOwnedProtocol) ks.rules.push_back(r.rule);
  auto listing = nft_.list_table();
  if (!listing) return listing.error();
  // Same listing as after our last load: the kernel holds what we applied
  // (including incremental chain updates made since). Otherwise: unknown.
  if (*listing && nft_listing_ && **listing == *nft_listing_ && applied_) ks.nft = applied_->nft;
  return ks;
}

Result<void> Programmer::write_diff(const KernelState& from, const KernelState& to) {
  // Every object is attempted even after a failure: one route the kernel
  // refuses must not hold back the others, and above all not the nft update
  // that moves traffic. The first error is returned (the retry resyncs).
  std::vector<std::string> errors;
  auto attempt = [&](Result<void> r, const char* what, const std::string& obj) {
    if (r) log()->info("{}: {}", what, obj);
    else errors.push_back(r.error().message);
  };
  // Routes: one per key; add() replaces in place, so a gateway change has no gap.
  for (const auto& r : to.routes)
    if (std::find(from.routes.begin(), from.routes.end(), r) == from.routes.end())
      attempt(netlink_.add_route(r), "route added", r.to_string());
  for (const auto& r : from.routes) {
    bool key_wanted = std::any_of(to.routes.begin(), to.routes.end(), [&](const Route& x) { return x.key() == r.key(); });
    if (!key_wanted) attempt(netlink_.delete_route(r), "route removed", r.to_string());
  }
  // Rules: add the new before deleting the old, so traffic never falls through.
  std::multiset<Rule> have(from.rules.begin(), from.rules.end());
  std::set<Rule> want(to.rules.begin(), to.rules.end());
  for (const auto& r : want)
    if (!have.count(r)) attempt(netlink_.add_rule(r), "rule added", r.to_string());
  std::set<Rule> seen;
  for (const auto& r : from.rules) {
    // Extra copies of a wanted rule (a predecessor's duplicates) go too.
    if (want.count(r) && seen.insert(r).second) continue;
    attempt(netlink_.delete_rule(r), "rule removed", r.to_string());
  }
  if (auto ok = write_nft(from.nft, to.nft); !ok) errors.insert(errors.begin(), ok.error().message);
  if (errors.empty()) return {};
  return make_error(errors.front() + (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : ""));
}

Result<void> Programmer::write_nft(const NftState& from, const NftState& to) {
  if (from == to) return {};
  std::string script;
  bool full = from.empty() || from.skeleton != to.skeleton;
  if (full) {
    script = nft_full_load(to);
  } else {
    for (const auto& [chain, lines] : to.chains) {
      auto old = from.chains.find(chain);
      if (old != from.chains.end() && old->second == lines) continue;
      script += "flush chain " + kTable + " " + chain + "\n";
      for (const auto& l : lines) script += "add rule " + kTable + " " + chain + " " + l + "\n";
    }
  }
  if (auto ok = nft_.run(script); !ok)
    return make_error("nft table " + kTable + (full ? " load" : " chain update") + ": " + ok.error().message);
  if (full) {
    auto listing = nft_.list_table();
    nft_listing_ = listing && *listing ? std::optional(**listing) : std::nullopt;
    log()->info("nft table {} loaded", kTable);
  } else {
    // After an incremental update our stored listing is stale: the next sync
    // cannot tell our edits from others', so it reloads once (harmless, atomic).
    nft_listing_.reset();
  }
  return {};
}

Result<void> Programmer::remove_all() {
  retry_timer_->cancel();
  debounce_timer_->cancel();
  verify_timer_->cancel();
  desired_.reset();
  applied_.reset();
  nft_listing_.reset();
  std::vector<std::string> errors;
  if (auto routes = netlink_.list_default_routes(); routes) {
    for (const auto& r : *routes)
      if (r.protocol == kOwnedProtocol)
        if (auto ok = netlink_.delete_route(r.route); !ok) errors.push_back(ok.error().message);
  } else {
    errors.push_back(routes.error().message);
  }
  if (auto rules = netlink_.list_rules(); rules) {
    for (const auto& r : *rules)
      if (r.protocol == kOwnedProtocol)
        if (auto ok = netlink_.delete_rule(r.rule); !ok) errors.push_back(ok.error().message);
  } else {
    errors.push_back(rules.error().message);
  }
  if (auto ok = nft_.run("table " + kTable + " {}\ndelete table " + kTable + "\n"); !ok)
    errors.push_back(ok.error().message);
  if (errors.empty()) {
    log()->info("removed all routes, rules and the nft table uplinkd owned");
    return {};
  }
  std::string msg = "cleanup incomplete (" + std::to_string(errors.size()) + " errors), first: " + errors.front();
  log()->error("{}", msg);
  return make_error(msg);
}

}  // namespace uplink
