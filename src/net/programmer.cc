#include "net/programmer.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "common/log.h"

namespace uplink {

namespace {

auto log() { return get_logger("net"); }

const std::string kTable = std::string("inet ") + kNftTable;

// The top-level blocks of an nft table listing ("\tchain X {" ... "\t}",
// "\tset Y {" ... "\t}"), by their opening line.
std::map<std::string, std::string> listing_blocks(const std::string& listing) {
  std::map<std::string, std::string> blocks;
  std::string head, body, line;
  std::istringstream in(listing);
  while (std::getline(in, line)) {
    if (head.empty()) {
      if (line.size() > 2 && line[0] == '\t' && line[1] != '\t' && line.back() == '{') head = line;
    } else if (line == "\t}") {
      blocks[head] = body;
      head.clear();
      body.clear();
    } else {
      body += line + "\n";
    }
  }
  return blocks;
}

// Whether two listings of our table differ only inside `chains`.
bool same_except_chains(const std::string& a, const std::string& b, const std::set<std::string>& chains) {
  auto ba = listing_blocks(a), bb = listing_blocks(b);
  for (const auto& c : chains) {
    ba.erase("\tchain " + c + " {");
    bb.erase("\tchain " + c + " {");
  }
  return ba == bb;
}

}  // namespace

std::string nft_full_load(const NftState& state) {
  // Create-if-missing then delete makes the delete safe; the table text then
  // recreates it. One buffer = one transaction: no moment without the table.
  return "table " + kTable + " {}\ndelete table " + kTable + "\n" + state.render();
}

Programmer::Programmer(Netlink& netlink, Nftables& nft, TimeSource& time, ProgrammerTuning tuning,
                       KernelObjects* shared)
    : netlink_(netlink),
      nft_(nft),
      time_(time),
      tuning_(tuning),
      shared_(shared),
      backoff_(tuning.retry_min),
      retry_timer_(time.make_timer()),
      debounce_timer_(time.make_timer()),
      verify_timer_(time.make_timer()),
      listing_timer_(time.make_timer()) {
  // Another owner's set changed: program the union again (nothing before
  // routing's first desired state: the tables and rules come with it).
  if (shared_)
    shared_->set_listener([this] {
      if (base_) (void)apply(*base_);
    });
}

Programmer::~Programmer() {
  if (shared_) shared_->set_listener(nullptr);
}

Result<void> Programmer::apply(const KernelState& routing) {
  base_ = routing;
  KernelState desired = routing;
  if (shared_) shared_->merge_into(desired);
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
  if (listing_timer_->armed()) (void)refresh_listing();  // the reference first, or the check below reloads
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
  // First programming (nothing of ours in the kernel): the table first, so the
  // private-traffic guard is in place before any route can carry traffic.
  bool nft_first = from.nft.empty() && !to.nft.guard.empty();
  if (nft_first)
    if (auto ok = write_nft(from.nft, to.nft); !ok) errors.push_back(ok.error().message);
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
  if (!nft_first)
    if (auto ok = write_nft(from.nft, to.nft); !ok) errors.insert(errors.begin(), ok.error().message);
  if (errors.empty()) return {};
  return make_error(errors.front() + (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : ""));
}

Result<void> Programmer::write_nft(const NftState& from, const NftState& to) {
  if (from == to) return {};
  std::string script;
  std::set<std::string> rewritten;
  bool full = from.empty() || from.skeleton != to.skeleton;
  if (full) {
    script = nft_full_load(to);
  } else {
    for (const auto& [chain, lines] : to.chains) {
      auto old = from.chains.find(chain);
      if (old != from.chains.end() && old->second == lines) continue;
      script += "flush chain " + kTable + " " + chain + "\n";
      for (const auto& l : lines) script += "add rule " + kTable + " " + chain + " " + l + "\n";
      rewritten.insert(chain);
    }
    // Pins of a link that is no longer honoured go in the same transaction.
    for (const auto& set : from.sticky_sets)
      if (!to.sticky_sets.count(set)) script += "flush set " + kTable + " " + set + "\n";
  }
  if (auto ok = nft_.run(script); !ok)
    return make_error("nft table " + kTable + (full ? " load" : " chain update") + ": " + ok.error().message);
  if (full) {
    listing_timer_->cancel();
    rewritten_.clear();
    auto listing = nft_.list_table();
    nft_listing_ = listing && *listing ? std::optional(**listing) : std::nullopt;
    log()->info("nft table {} loaded", kTable);
  } else {
    // The new reference listing is taken right after, off the decision path.
    rewritten_.insert(rewritten.begin(), rewritten.end());
    if (!listing_timer_->armed())
      listing_timer_->arm(Duration::zero(), [this] {
        if (!refresh_listing()) schedule_sync();
      });
  }
  return {};
}

bool Programmer::refresh_listing() {
  listing_timer_->cancel();
  auto listing = nft_.list_table();
  std::optional<std::string> now = listing && *listing ? std::optional(**listing) : std::nullopt;
  if (now && nft_listing_ && same_except_chains(*nft_listing_, *now, rewritten_)) {
    // Outside the chains we rewrote the table is as we loaded it: the new
    // listing is the reference for the next sync. (A reload would also empty
    // the sticky sets: the pins must survive a policy change.)
    nft_listing_ = now;
    rewritten_.clear();
    return true;
  }
  // Someone else changed the table meanwhile (or there is no reference):
  // the next sync cannot tell our edits from theirs and reloads (atomic).
  if (nft_listing_) log()->warn("nft table {} was changed by someone else; reloading it", kTable);
  nft_listing_.reset();
  rewritten_.clear();
  return false;
}

Result<void> Programmer::remove_all(bool keep_guard) {
  std::string guard = keep_guard && desired_ ? desired_->nft.guard : "";
  retry_timer_->cancel();
  debounce_timer_->cancel();
  verify_timer_->cancel();
  listing_timer_->cancel();
  rewritten_.clear();
  base_.reset();
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
  std::string script = "table " + kTable + " {}\ndelete table " + kTable + "\n";
  if (!guard.empty()) script += "table " + kTable + " {\n" + guard + "}\n";
  if (auto ok = nft_.run(script); !ok) errors.push_back(ok.error().message);
  if (errors.empty()) {
    log()->info("removed all routes, rules and the nft table uplinkd owned{}",
                guard.empty() ? "" : " but the private-traffic guard (daemon.fail_closed)");
    return {};
  }
  std::string msg = "cleanup incomplete (" + std::to_string(errors.size()) + " errors), first: " + errors.front();
  log()->error("{}", msg);
  return make_error(msg);
}

}  // namespace uplink
