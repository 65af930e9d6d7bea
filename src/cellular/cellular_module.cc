#include "cellular/cellular_module.h"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cellular/cellular_config.h"
#include "cellular/mm_backend.h"
#include "common/log.h"
#include "common/strings.h"
#include "config/atomic_write.h"
#include "core/topics.h"
#include "net/netlink.h"

namespace uplink {

using namespace cellular;

namespace {

constexpr const char* kOwner = "cellular";
constexpr const char* kHardSource = "cellular";
constexpr const char* kRadioSource = "radio";
constexpr int kSignalRefreshSeconds = 5;  // ModemManager's extended signal figures (RSRP, SINR)

std::shared_ptr<spdlog::logger> logger() {
  static auto l = get_logger("cellular");
  return l;
}

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

bool link_local_v6(const IpAddress& a) { return a.is_v6() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80; }

}  // namespace

nlohmann::json event_json(const ModemEvent& e) {
  return {{"ts", format_wall_time(e.ts)}, {"link", e.link}, {"event", e.event}, {"detail", e.detail},
          {"modem", e.modem}};
}

std::optional<std::string> match_modem(const std::string& selector, const std::map<std::string, ModemInfo>& modems,
                                       const std::vector<std::string>& taken) {
  auto free = [&](const std::string& path) { return std::find(taken.begin(), taken.end(), path) == taken.end(); };
  // By index order, so "any" is stable across runs.
  std::vector<const ModemInfo*> sorted;
  for (const auto& [path, m] : modems) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(), [](const ModemInfo* a, const ModemInfo* b) { return a->index < b->index; });
  for (const ModemInfo* m : sorted) {
    if (!free(m->path)) continue;
    bool ok = false;
    if (selector == "any") ok = true;
    else if (starts_with(selector, "imei:")) ok = m->equipment_id == selector.substr(5);
    else if (starts_with(selector, "port:")) ok = m->primary_port == selector.substr(5);
    else if (starts_with(selector, "index:")) ok = std::to_string(m->index) == selector.substr(6);
    if (ok) return m->path;
  }
  return std::nullopt;
}

// ---- one link --------------------------------------------------------------

struct CellularModule::Entry {
  std::unique_ptr<LinkEffects> effects;
  std::unique_ptr<ModemLink> link;
  std::string bound;                 // modem path
  std::optional<ModemInfo> last;     // what the link was last told
  int ifindex = 0;
  std::vector<IpPrefix> applied;     // addresses we put on the interface
  bool signal_setup_for_ = false;
  std::string signal_path;           // modem path the Signal refresh was set up on
};

class CellularModule::LinkEffects final : public ModemLink::Effects {
 public:
  LinkEffects(CellularModule& m, std::string link) : m_(m), link_(std::move(link)) {}

  void link_down(const std::string& reason) override {
    m_.ctx_.links.set_hard_signal(link_, kHardSource, reason);
  }
  void link_degraded(const std::string& reason) override {
    m_.ctx_.links.set_degrade_signal(link_, kRadioSource, reason);
  }
  void apply_ip(const BearerInfo& b) override;
  void remove_ip() override;
  void event(const std::string& kind, const std::string& detail) override {
    const Entry* e = entry();
    std::string modem;
    if (e && e->link && e->link->modem_info()) modem = e->link->modem_info()->equipment_id;
    logger()->info("[{}] {}: {}", link_, kind, detail);
    m_.ctx_.bus.publish(ModemEvent{m_.ctx_.time.wall_now(), link_, kind, detail, modem});
  }
  void sim_state_changed(const SimState& state) override {
    const std::string path = m_.sim_state_path(link_);
    if (path.empty()) return;
    // Tiny and rare (a SIM switch): written in place, fsync'ed, so a crash loop keeps the budget.
    if (auto ok = write_file_atomically(path, to_json(state).dump() + "\n"); !ok)
      logger()->warn("[{}] cannot persist the SIM-slot history to {}: {}", link_, path, ok.error().message);
  }

 private:
  Entry* entry() const {
    auto it = m_.links_.find(link_);
    return it == m_.links_.end() ? nullptr : it->second.get();
  }
  int ifindex(const std::string& ifname) const {
    if (!m_.netlink_) return 0;
    auto links = m_.netlink_->list_links();
    if (!links) return 0;
    for (const auto& l : *links)
      if (l.name == ifname) return l.ifindex;
    return 0;
  }

  CellularModule& m_;
  std::string link_;
};

void CellularModule::LinkEffects::apply_ip(const BearerInfo& b) {
  Entry* e = entry();
  if (!e || !e->link) return;
  const LinkConfig& cfg = e->link->config();
  std::optional<IpAddress> gw4 = b.ipv4 ? b.ipv4->gateway : std::nullopt;
  std::optional<IpAddress> gw6 = b.ipv6 ? b.ipv6->gateway : std::nullopt;
  if (!b.interface.empty() && b.interface != cfg.interface)
    event("interface_mismatch", "the bearer reports " + b.interface + ", the link uses " + cfg.interface);
  for (const auto* ip : {&b.ipv4, &b.ipv6})
    if (*ip && ((*ip)->method == BearerIp::Method::dhcp || (*ip)->method == BearerIp::Method::ppp))
      event("ip_method", "the bearer asks for " +
                             std::string((*ip)->method == BearerIp::Method::dhcp ? "DHCP" : "PPP") +
                             " on " + cfg.interface + ": a DHCP/PPP client must configure it; routing uses what appears");
  if (m_.netlink_) {
    const int idx = ifindex(cfg.interface);
    e->ifindex = idx;
    if (idx == 0) {
      event("interface_missing", cfg.interface + " does not exist: the bearer's address is not applied");
    } else {
      std::vector<IpPrefix> want;
      for (const auto* ip : {&b.ipv4, &b.ipv6})
        if (*ip && (*ip)->method == BearerIp::Method::static_ip && (*ip)->address) want.push_back(*(*ip)->address);
      // What a previous bearer (or a crashed run) left: other global addresses of the same family.
      if (auto addrs = m_.netlink_->list_addresses()) {
        for (const auto& a : *addrs) {
          if (a.ifindex != idx || link_local_v6(a.prefix.addr)) continue;
          bool same_family = std::any_of(want.begin(), want.end(), [&](const IpPrefix& w) {
            return w.addr.family == a.prefix.addr.family;
          });
          if (same_family && std::find(want.begin(), want.end(), a.prefix) == want.end())
            if (auto ok = m_.netlink_->delete_address(idx, a.prefix); !ok) logger()->warn("[{}] {}", link_, ok.error().message);
        }
      }
      const int mtu = b.ipv4 && b.ipv4->mtu > 0 ? b.ipv4->mtu : b.ipv6 && b.ipv6->mtu > 0 ? b.ipv6->mtu : 0;
      if (mtu >= 576 && mtu <= 9000)
        if (auto ok = m_.netlink_->set_link_mtu(idx, mtu); !ok) logger()->warn("[{}] {}", link_, ok.error().message);
      if (auto ok = m_.netlink_->set_link_up(idx, true); !ok) logger()->warn("[{}] {}", link_, ok.error().message);
      for (const auto& p : want) {
        if (auto ok = m_.netlink_->add_address(idx, p); !ok) {
          event("address_failed", ok.error().message);
          continue;
        }
        if (std::find(e->applied.begin(), e->applied.end(), p) == e->applied.end()) e->applied.push_back(p);
      }
    }
  }
  m_.ctx_.bus.publish(LinkNextHopEvent{link_, gw4, gw6});
}

void CellularModule::LinkEffects::remove_ip() {
  Entry* e = entry();
  if (!e) return;
  if (m_.netlink_ && e->ifindex)
    for (const auto& p : e->applied)
      if (auto ok = m_.netlink_->delete_address(e->ifindex, p); !ok) logger()->warn("[{}] {}", link_, ok.error().message);
  e->applied.clear();
  m_.ctx_.bus.publish(LinkNextHopEvent{link_, std::nullopt, std::nullopt});
}

// ---- the module --------------------------------------------------------------

CellularModule::CellularModule(ModuleContext& ctx, ModemBackend& backend, Netlink* netlink)
    : ctx_(ctx), backend_(backend), netlink_(netlink) {
  subs_.push_back(ctx_.bus.subscribe<LinkEvent>([this](const LinkEvent& e) {
    auto it = links_.find(e.link);
    if (it == links_.end() || !it->second->link) return;
    const LinkEntry* le = ctx_.links.find(e.link);
    it->second->link->link_state(e.to, le ? le->verdict : e.to);
  }));
  ctx_.verbs.add(control::Verb{
      .name = "modems",
      .usage = "modems [--json]",
      .help = "cellular links: modem, SIM slot, operator, access tech, signal, registration, bearer",
      .changes_state = false,
      .fields = {},
      .owner = kOwner,
      .handler = [this](const control::Request&) {
        nlohmann::json r{{"modems", modems_json()}};
        r["text"] = modems_text();
        return control::Reply::success(r);
      }});
  ctx_.verbs.add(control::Verb{
      .name = "modem",
      .usage = "modem NAME sim-slot N | modem NAME reconnect | modem NAME reset",
      .help = "switch a cellular link's SIM slot, reconnect its bearer, or reset its modem",
      .changes_state = true,
      .fields = {},
      .owner = kOwner,
      .handler = [this](const control::Request& req) { return modem_verb(req); }});
}

CellularModule::~CellularModule() {
  ctx_.verbs.remove_owner(kOwner);
  for (auto id : subs_) ctx_.bus.unsubscribe(id);
  stop();
}

std::string CellularModule::sim_state_path(const std::string& link) const {
  if (state_dir_.empty()) return {};
  return state_dir_ + "/cellular-" + link + ".sim.json";
}

std::optional<SimState> CellularModule::load_sim_state(const std::string& link) const {
  const std::string path = sim_state_path(link);
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  auto s = j.is_discarded() ? std::nullopt : sim_state_from_json(j);
  if (!s) logger()->warn("[{}] {} is not a SIM-slot history; starting afresh", link, path);
  return s;
}

Result<void> CellularModule::apply(const Config& next, const ConfigDiff&) {
  if (stopped_) return make_error("cellular is stopped; configuration not applied");
  state_dir_ = next.daemon.state_dir;
  std::vector<std::string> order;
  for (const auto& name : next.link_order)
    if (next.links.at(name).kind == LinkKind::cellular && next.links.at(name).modem != "none") order.push_back(name);
  // Gone (or no longer cellular): take their addresses away.
  for (auto it = links_.begin(); it != links_.end();) {
    if (std::find(order.begin(), order.end(), it->first) == order.end()) {
      it->second->effects->remove_ip();
      it = links_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& name : order) {
    const LinkConfig& l = next.links.at(name);
    auto it = links_.find(name);
    if (it == links_.end()) {
      auto e = std::make_unique<Entry>();
      e->effects = std::make_unique<LinkEffects>(*this, name);
      Entry* raw = e.get();
      links_.emplace(name, std::move(e));
      raw->link = std::make_unique<ModemLink>(l, ctx_.time, backend_, *raw->effects, load_sim_state(name));
      if (started_) raw->link->service(service_);
    } else if (it->second->link->config().modem != l.modem) {
      // Another modem: start over on it.
      it->second->effects->remove_ip();
      it->second->link = std::make_unique<ModemLink>(l, ctx_.time, backend_, *it->second->effects, load_sim_state(name));
      it->second->bound.clear();
      it->second->last.reset();
      if (started_) it->second->link->service(service_);
    } else {
      it->second->link->reconfigure(l);
    }
  }
  order_ = order;
  if (!order_.empty() && !started_) {
    started_ = true;
    backend_.start(*this);  // replies arrive later, on the io thread
  }
  rebind();
  return {};
}

void CellularModule::stop() {
  if (stopped_) return;
  stopped_ = true;
  // The bearers stay up in ModemManager (a restart adopts them); what we put
  // into the kernel goes.
  for (auto& [name, e] : links_) e->effects->remove_ip();
  if (started_) backend_.stop();
}

void CellularModule::on_service(bool available) {
  service_ = available;
  if (!available) modems_.clear();
  for (const auto& name : order_) {
    auto& e = *links_.at(name);
    if (!available) {
      e.bound.clear();
      e.last.reset();
    }
    e.link->service(available);
  }
  rebind();
}

void CellularModule::on_modem(const ModemInfo& modem) {
  logger()->debug("modem {} ({}): {}, registration {}, signal {}%, slot {}/{}", modem.path, modem.equipment_id,
                  to_string(modem.state), to_string(modem.registration), modem.signal, modem.primary_slot,
                  modem.slot_count);
  modems_[modem.path] = modem;
  rebind();
}

void CellularModule::on_modem_gone(const std::string& path) {
  modems_.erase(path);
  rebind();
}

void CellularModule::on_bearer(const std::string& modem_path, const BearerInfo& bearer) {
  for (const auto& name : order_) {
    auto& e = *links_.at(name);
    if (e.bound == modem_path) e.link->bearer(bearer);
  }
}

// Modems to links: exact selectors first (an IMEI, port or index names one
// modem), then "any" takes what is left, in file order.
void CellularModule::rebind() {
  if (stopped_) return;
  std::vector<std::string> taken;
  std::map<std::string, std::optional<std::string>> chosen;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& name : order_) {
      const std::string& sel = links_.at(name)->link->config().modem;
      if ((sel == "any") != (pass == 1)) continue;
      auto path = match_modem(sel, modems_, taken);
      if (path) taken.push_back(*path);
      chosen[name] = path;
    }
  }
  for (const auto& name : order_) {
    Entry& e = *links_.at(name);
    std::optional<ModemInfo> info;
    if (auto p = chosen[name]) info = modems_.at(*p);
    if (info == e.last) continue;
    const bool moved = !info || !e.last || info->path != e.last->path;
    e.last = info;
    e.bound = info ? info->path : "";
    e.link->modem(info);
    // Extended signal figures (RSRP, SINR) once per modem appearance.
    if (info && moved && e.signal_path != info->path) {
      e.signal_path = info->path;
      backend_.setup_signal(info->path, kSignalRefreshSeconds, [name](Result<void> r) {
        if (!r) logger()->debug("[{}] {}", name, r.error().message);
      });
    }
  }
}

const ModemLink* CellularModule::link(const std::string& name) const {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : it->second->link.get();
}

control::Reply CellularModule::modem_verb(const control::Request& req) {
  std::vector<std::string> argv;
  if (req.args.contains("argv") && req.args["argv"].is_array())
    for (const auto& a : req.args["argv"]) argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
  const std::string usage = "usage: modem NAME sim-slot N | modem NAME reconnect | modem NAME reset";
  if (argv.size() < 2) return control::Reply::failure(usage);
  auto it = links_.find(argv[0]);
  if (it == links_.end()) {
    std::string names;
    for (const auto& n : order_) names += (names.empty() ? "" : ", ") + n;
    return control::Reply::failure("no cellular link '" + argv[0] + "'" +
                                   (names.empty() ? " (none configured)" : " (cellular links: " + names + ")"));
  }
  ModemLink& ml = *it->second->link;
  Result<void> r;
  if (argv[1] == "reconnect" && argv.size() == 2) r = ml.reconnect();
  else if (argv[1] == "reset" && argv.size() == 2) r = ml.reset();
  else if (argv[1] == "sim-slot" && argv.size() == 3) {
    const std::string& n = argv[2];
    if (n.empty() || n.size() > 1 || n[0] < '1' || n[0] > '8')
      return control::Reply::failure("sim-slot: '" + n + "' is not a slot number (1-8)");
    r = ml.switch_slot(n[0] - '0');
  } else {
    return control::Reply::failure(usage);
  }
  if (!r) return control::Reply::failure(r.error().message);
  return control::Reply::success({{"link", argv[0]}, {"requested", argv[1]}});
}

nlohmann::json CellularModule::modems_json() const {
  auto out = nlohmann::json::array();
  for (const auto& name : order_) out.push_back(links_.at(name)->link->status_json());
  return out;
}

std::string CellularModule::modems_text() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-10s %-16s %-12s %-10s %-14s %-6s %7s %4s %-18s %s\n", "LINK", "MODEM", "STATE",
                "REG", "OPERATOR", "TECH", "SIGNAL", "SIM", "ADDRESS", "PHASE (REASON)");
  out += line;
  for (const auto& name : order_) {
    const ModemLink& ml = *links_.at(name)->link;
    std::string imei = "-", state = "-", reg = "-", op = "-", tech = "-", sig = "-", slot = "-", addr = "-";
    if (const auto& m = ml.modem_info()) {
      imei = m->equipment_id.empty() ? m->path : m->equipment_id;
      state = std::string(to_string(m->state));
      reg = std::string(to_string(m->registration));
      op = m->operator_name.empty() ? "-" : m->operator_name;
      tech = m->access_tech.empty() ? "-" : m->access_tech;
      sig = std::to_string(m->signal) + "%";
      slot = m->slot_count ? std::to_string(m->primary_slot) + "/" + std::to_string(m->slot_count) : "-";
    }
    if (const auto& b = ml.bearer_info(); b && b->connected && b->ipv4 && b->ipv4->address)
      addr = b->ipv4->address->to_string();
    std::snprintf(line, sizeof line, "%-10s %-16s %-12s %-10s %-14s %-6s %7s %4s %-18s %s (%s)\n", name.c_str(),
                  imei.c_str(), state.c_str(), reg.c_str(), op.c_str(), tech.c_str(), sig.c_str(), slot.c_str(),
                  addr.c_str(), std::string(to_string(ml.phase())).c_str(), ml.reason().c_str());
    out += line;
  }
  if (order_.empty()) out += "(no cellular links)\n";
  return out;
}

void CellularModule::add_status(nlohmann::json& status) const {
  if (!order_.empty()) status["modems"] = modems_json();
}

void CellularModule::add_link_detail(const std::string& link, nlohmann::json& detail) const {
  auto it = links_.find(link);
  if (it != links_.end()) detail["cellular"] = it->second->link->status_json();
}

void CellularModule::add_metrics(std::string& text) const {
  if (order_.empty()) return;
  auto gauge = [&](const char* name, const char* help, auto value_of) {
    std::string lines;
    for (const auto& n : order_) {
      const ModemLink& ml = *links_.at(n)->link;
      if (auto v = value_of(ml)) {
        char num[64];
        std::snprintf(num, sizeof num, "%g", *v);
        lines += std::string(name) + "{link=\"" + prometheus_label(n) + "\"} " + num + "\n";
      }
    }
    if (lines.empty()) return;
    text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + lines;
  };
  using Opt = std::optional<double>;
  gauge("uplink_modem_connected", "1 while the link's bearer is connected and configured",
        [](const ModemLink& m) -> Opt { return m.phase() == Phase::connected ? 1.0 : 0.0; });
  gauge("uplink_modem_signal_percent", "signal quality reported by ModemManager", [](const ModemLink& m) -> Opt {
    return m.modem_info() ? Opt(m.modem_info()->signal) : std::nullopt;
  });
  gauge("uplink_modem_rsrp_dbm", "LTE RSRP", [](const ModemLink& m) -> Opt {
    return m.modem_info() ? m.modem_info()->rsrp : std::nullopt;
  });
  gauge("uplink_modem_sinr_db", "LTE SINR/SNR", [](const ModemLink& m) -> Opt {
    return m.modem_info() ? m.modem_info()->sinr : std::nullopt;
  });
  gauge("uplink_modem_sim_slot", "active SIM slot (1-based)", [](const ModemLink& m) -> Opt {
    return m.modem_info() && m.modem_info()->slot_count ? Opt(m.modem_info()->primary_slot) : std::nullopt;
  });
  gauge("uplink_modem_connect_attempts", "bearer connect attempts since the link was last usable",
        [](const ModemLink& m) -> Opt { return m.attempts(); });
}

// ---- wiring ------------------------------------------------------------------

namespace {

// ModemManager's client, created when the first cellular link starts it: a
// router without modems runs no GLib thread and opens no D-Bus connection.
class LazyMmBackend final : public ModemBackend {
 public:
  explicit LazyMmBackend(Executor& results) : results_(results) {}
  void start(Listener& l) override {
    if (!real_) real_ = std::make_unique<MmBackend>(results_);
    real_->start(l);
  }
  void stop() override {
    if (real_) real_->stop();
  }
  void enable(const std::string& m, Done d) override { real().enable(m, std::move(d)); }
  void connect(const std::string& m, const ConnectRequest& r, Connected d) override { real().connect(m, r, std::move(d)); }
  void disconnect(const std::string& m, Done d) override { real().disconnect(m, std::move(d)); }
  void reset(const std::string& m, Done d) override { real().reset(m, std::move(d)); }
  void set_primary_slot(const std::string& m, int s, Done d) override { real().set_primary_slot(m, s, std::move(d)); }
  void send_pin(const std::string& m, const std::string& p, Done d) override { real().send_pin(m, p, std::move(d)); }
  void setup_signal(const std::string& m, int s, Done d) override { real().setup_signal(m, s, std::move(d)); }

 private:
  // Commands come only from links, which exist only after start().
  MmBackend& real() {
    if (!real_) real_ = std::make_unique<MmBackend>(results_);
    return *real_;
  }
  Executor& results_;
  std::unique_ptr<MmBackend> real_;
};

// Owns the real backend (ModemManager) next to the module that uses it.
class RealCellularModule final : public Module {
 public:
  RealCellularModule(ModuleContext& ctx, boost::asio::io_context& io)
      : results_(io), backend_(results_), module_(ctx, backend_, ctx.services.find<Netlink>()) {}
  std::string_view name() const override { return module_.name(); }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override { return module_.apply(next, diff); }
  void stop() override { module_.stop(); }
  void add_status(nlohmann::json& s) const override { module_.add_status(s); }
  void add_metrics(std::string& t) const override { module_.add_metrics(t); }
  void add_link_detail(const std::string& l, nlohmann::json& d) const override { module_.add_link_detail(l, d); }

 private:
  AsioExecutor results_;
  LazyMmBackend backend_;
  CellularModule module_;
};

}  // namespace

std::unique_ptr<Module> make_cellular_module(ModuleContext& ctx) {
  if (auto* fake = ctx.services.find<ModemBackend>())
    return std::make_unique<CellularModule>(ctx, *fake, ctx.services.find<Netlink>());
  return std::make_unique<RealCellularModule>(ctx, ctx.services.get<boost::asio::io_context>());
}

}  // namespace uplink
