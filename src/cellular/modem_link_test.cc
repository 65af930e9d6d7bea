// One cellular link's life cycle against a scripted backend, in fake time.
#include "cellular/modem_link.h"

#include <gtest/gtest.h>

#include "cellular/testing/fake_backend.h"

namespace uplink::cellular {
namespace {

using namespace std::chrono_literals;
using testing::FakeBackend;

struct Effects final : ModemLink::Effects {
  std::string down = "?";  // current hard reason ("" = cleared)
  std::string degraded;
  std::vector<std::string> events;  // kind
  std::vector<std::string> details;
  int applies = 0, removes = 0;
  bool ip_on = false;
  std::optional<SimState> persisted;
  void link_down(const std::string& r) override { down = r; }
  void link_degraded(const std::string& r) override { degraded = r; }
  void apply_ip(const BearerInfo&) override {
    ++applies;
    ip_on = true;
  }
  void remove_ip() override {
    ++removes;
    ip_on = false;
  }
  void event(const std::string& k, const std::string& d) override {
    events.push_back(k);
    details.push_back(d);
  }
  void sim_state_changed(const SimState& s) override { persisted = s; }
  bool saw(const std::string& k) const { return std::find(events.begin(), events.end(), k) != events.end(); }
  int seen(const std::string& k) const { return int(std::count(events.begin(), events.end(), k)); }
};

LinkConfig cell_link(std::shared_ptr<CellularLink> ext = nullptr) {
  LinkConfig l;
  l.name = "cell1";
  l.kind = LinkKind::cellular;
  l.interface = "wwan0";
  l.modem = "any";
  l.apn = "iot.private";
  l.probe.interval = 1s;
  l.probe.up_after = 2;
  l.probe.down_after = 2;
  if (!ext) {
    ext = std::make_shared<CellularLink>();
    ext->apn_user = "u";
    ext->apn_password = Secret{"s3cret-pw", std::nullopt};
  }
  l.extension = ext;
  return l;
}

ModemInfo modem(const std::string& path = "/org/freedesktop/ModemManager1/Modem/0",
                ModemState st = ModemState::registered, Registration reg = Registration::home) {
  ModemInfo m;
  m.path = path;
  m.index = path.back() - '0';
  m.equipment_id = "356938035643809";
  m.state = st;
  m.registration = reg;
  m.signal = 70;
  m.primary_slot = 1;
  m.slot_count = 2;
  return m;
}

BearerInfo bearer(bool connected, const std::string& path = "/org/freedesktop/ModemManager1/Bearer/0") {
  BearerInfo b;
  b.path = path;
  b.connected = connected;
  b.interface = "wwan0";
  if (connected) {
    BearerIp ip;
    ip.method = BearerIp::Method::static_ip;
    ip.address = IpPrefix{*IpAddress::parse("198.18.3.2"), 24};
    ip.gateway = *IpAddress::parse("198.18.3.1");
    ip.mtu = 1430;
    b.ipv4 = ip;
  }
  return b;
}

class ModemLinkTest : public ::testing::Test {
 protected:
  void make(LinkConfig l = cell_link(), std::optional<SimState> sim = std::nullopt) {
    link = std::make_unique<ModemLink>(l, time, backend, fx, sim);
  }
  // Service present, modem registered, connect answered: the link is connected.
  void connect_up() {
    link->service(true);
    link->modem(modem());
    auto c = backend.take("connect");
    c.connected(bearer(true), ConnectFailure::none);
    ASSERT_EQ(link->phase(), Phase::connected);
  }
  FakeTimeSource time;
  FakeBackend backend;
  Effects fx;
  std::unique_ptr<ModemLink> link;
};

TEST_F(ModemLinkTest, DownUntilTheBearerIsUpThenConnectedWithIp) {
  make();
  EXPECT_FALSE(fx.down.empty());
  link->service(true);
  EXPECT_EQ(fx.down, "no_modem");
  link->modem(modem("/org/freedesktop/ModemManager1/Modem/0", ModemState::disabled, Registration::idle));
  EXPECT_EQ(link->phase(), Phase::enabling);
  backend.take("enable").done(Result<void>{});
  link->modem(modem("/org/freedesktop/ModemManager1/Modem/0", ModemState::searching, Registration::searching));
  EXPECT_EQ(fx.down, "not_registered");
  EXPECT_FALSE(backend.has("connect"));
  link->modem(modem());
  auto c = backend.take("connect");
  EXPECT_EQ(c.request.apn, "iot.private");
  EXPECT_EQ(c.request.user, "u");
  EXPECT_EQ(c.request.password, "s3cret-pw");
  c.connected(bearer(true), ConnectFailure::none);
  EXPECT_EQ(link->phase(), Phase::connected);
  EXPECT_EQ(fx.down, "");
  EXPECT_TRUE(fx.ip_on);
  EXPECT_TRUE(fx.saw("connected"));
  for (const auto& d : fx.details) EXPECT_EQ(d.find("s3cret"), std::string::npos) << d;
  EXPECT_EQ(link->status_json().dump().find("s3cret"), std::string::npos);
}

TEST_F(ModemLinkTest, ModemManagerAbsentAtStartIsItsOwnReason) {
  make();
  EXPECT_EQ(fx.down, "modem_pending");
  link->service(false);  // the first report, though the service was never seen
  EXPECT_EQ(fx.down, "modem_manager_unavailable");
}

TEST_F(ModemLinkTest, BearerDropIsDownAtOnceAndReconnectsImmediately) {
  make();
  connect_up();
  link->link_state(LinkState::up, LinkState::up);
  link->bearer(bearer(false));
  EXPECT_EQ(fx.down, "bearer_disconnected");
  EXPECT_FALSE(fx.ip_on);
  EXPECT_TRUE(fx.saw("bearer_dropped"));
  // Immediately: no timer in between.
  ASSERT_TRUE(backend.has("connect"));
  backend.take("connect").connected(bearer(true, "/org/freedesktop/ModemManager1/Bearer/1"), ConnectFailure::none);
  EXPECT_EQ(link->phase(), Phase::connected);
  EXPECT_TRUE(fx.ip_on);
}

TEST_F(ModemLinkTest, FailedConnectsBackOffDoublingToTheMaximum) {
  auto ext = std::make_shared<CellularLink>();
  ext->reconnect.backoff_initial = 5s;
  ext->reconnect.backoff_max = 40s;
  make(cell_link(ext));
  link->service(true);
  link->modem(modem());
  std::vector<Duration> gaps;
  TimePoint last = time.now();
  for (int i = 0; i < 6; ++i) {
    auto c = backend.take("connect");
    gaps.push_back(time.now() - last);
    last = time.now();
    c.connected(make_error("no carrier"), ConnectFailure::other);
    EXPECT_EQ(fx.down, "connect_failed");
    EXPECT_FALSE(backend.has("connect"));
    time.advance(time.next_deadline() - time.now());
  }
  std::vector<Duration> want = {0s, 5s, 10s, 20s, 40s, 40s};
  EXPECT_EQ(gaps, want);
}

TEST_F(ModemLinkTest, RejectedApnBacksOffToTheMaximumAtOnce) {
  auto ext = std::make_shared<CellularLink>();
  ext->reconnect.backoff_initial = 5s;
  ext->reconnect.backoff_max = 300s;
  make(cell_link(ext));
  link->service(true);
  link->modem(modem());
  backend.take("connect").connected(make_error("Missing or unknown APN"), ConnectFailure::apn_rejected);
  EXPECT_EQ(fx.down, "apn_rejected");
  EXPECT_TRUE(fx.saw("apn_rejected"));
  time.advance(299s);
  EXPECT_FALSE(backend.has("connect"));
  time.advance(1s);
  backend.take("connect").connected(make_error("auth"), ConnectFailure::auth_failed);
  EXPECT_EQ(fx.down, "auth_failed");
  time.advance(299s);
  EXPECT_FALSE(backend.has("connect"));
}

TEST_F(ModemLinkTest, ZombieReconnectsThenResetsTheModem) {
  auto ext = std::make_shared<CellularLink>();
  ext->reconnect.reset_after = 2;
  make(cell_link(ext));
  connect_up();
  link->link_state(LinkState::up, LinkState::up);
  // Probes fail while ModemManager still says connected.
  link->link_state(LinkState::down, LinkState::down);
  EXPECT_TRUE(fx.saw("zombie_bearer"));
  EXPECT_EQ(fx.down, "zombie_bearer");
  backend.take("disconnect").done(Result<void>{});
  backend.take("connect").connected(bearer(true, "/org/freedesktop/ModemManager1/Bearer/1"), ConnectFailure::none);
  EXPECT_EQ(link->phase(), Phase::connected);
  // Still nothing passes: the grace after the reconnect runs out -> the second zombie resets the modem.
  time.advance(time.next_deadline() - time.now());
  EXPECT_EQ(fx.seen("zombie_bearer"), 2);
  ASSERT_TRUE(backend.has("reset"));
  EXPECT_EQ(backend.count("connect"), 2);
}

TEST_F(ModemLinkTest, ZombieCountResetsWhenTheLinkWorks) {
  auto ext = std::make_shared<CellularLink>();
  ext->reconnect.reset_after = 2;
  make(cell_link(ext));
  connect_up();
  for (int i = 0; i < 3; ++i) {
    link->link_state(LinkState::up, LinkState::up);
    link->link_state(LinkState::down, LinkState::down);
    backend.take("disconnect").done(Result<void>{});
    backend.take("connect").connected(bearer(true), ConnectFailure::none);
  }
  EXPECT_EQ(fx.seen("zombie_bearer"), 3);
  EXPECT_FALSE(backend.has("reset"));
}

TEST_F(ModemLinkTest, ServiceGoneTakesTheLinkDownAndComesBack) {
  make();
  connect_up();
  link->service(false);
  EXPECT_EQ(fx.down, "modem_manager_unavailable");
  EXPECT_FALSE(fx.ip_on);
  link->service(true);
  link->modem(modem("/org/freedesktop/ModemManager1/Modem/3"));
  backend.take("connect").connected(bearer(true), ConnectFailure::none);
  EXPECT_EQ(link->phase(), Phase::connected);
}

TEST_F(ModemLinkTest, RepliesForAModemThatMovedAreIgnored) {
  make();
  link->service(true);
  link->modem(modem("/org/freedesktop/ModemManager1/Modem/0"));
  auto stale = backend.take("connect");
  link->modem(std::nullopt);
  EXPECT_EQ(fx.down, "no_modem");
  link->modem(modem("/org/freedesktop/ModemManager1/Modem/1"));
  auto fresh = backend.take("connect");
  stale.connected(bearer(true), ConnectFailure::none);  // dropped
  EXPECT_NE(link->phase(), Phase::connected);
  fresh.connected(bearer(true), ConnectFailure::none);
  EXPECT_EQ(link->phase(), Phase::connected);
}

TEST_F(ModemLinkTest, LockedSimIsUnlockedOnceWithTheConfiguredPin) {
  auto ext = std::make_shared<CellularLink>();
  ext->sim_pin = Secret{"1234", std::nullopt};
  make(cell_link(ext));
  link->service(true);
  ModemInfo m = modem("/org/freedesktop/ModemManager1/Modem/0", ModemState::locked, Registration::unknown);
  m.sim_locked = true;
  link->modem(m);
  EXPECT_EQ(fx.down, "sim_locked");
  EXPECT_EQ(backend.take("send_pin").pin, "1234");
  m.signal = 50;
  link->modem(m);  // still locked: no second PIN (a wrong one must not burn the retries)
  EXPECT_FALSE(backend.has("send_pin"));
  link->modem(modem());
  EXPECT_TRUE(backend.has("connect"));
}

TEST_F(ModemLinkTest, LockedSimWithoutPinStaysDown) {
  make();
  link->service(true);
  ModemInfo m = modem("/org/freedesktop/ModemManager1/Modem/0", ModemState::locked, Registration::unknown);
  m.sim_locked = true;
  link->modem(m);
  EXPECT_EQ(fx.down, "sim_locked");
  EXPECT_FALSE(backend.has("send_pin"));
  EXPECT_FALSE(backend.has("connect"));
}

TEST_F(ModemLinkTest, RegistrationLossIsDownAtOnce) {
  make();
  connect_up();
  link->modem(modem("/org/freedesktop/ModemManager1/Modem/0", ModemState::searching, Registration::searching));
  EXPECT_EQ(fx.down, "registration_lost");
  EXPECT_FALSE(fx.ip_on);
  EXPECT_TRUE(fx.saw("registration_lost"));
}

TEST_F(ModemLinkTest, RoamingIsRefusedUnlessAllowed) {
  make();
  link->service(true);
  link->modem(modem("/org/freedesktop/ModemManager1/Modem/0", ModemState::registered, Registration::roaming));
  EXPECT_EQ(fx.down, "roaming_not_allowed");
  EXPECT_FALSE(backend.has("connect"));
}

TEST_F(ModemLinkTest, RadioThresholdsDegradeWithHysteresis) {
  auto ext = std::make_shared<CellularLink>();
  ext->radio.min_signal = 20;
  make(cell_link(ext));
  connect_up();
  ModemInfo m = modem();
  m.signal = 15;
  link->modem(m);
  EXPECT_EQ(fx.degraded, "signal_low");
  m.signal = 22;  // above the threshold, inside the margin
  link->modem(m);
  EXPECT_EQ(fx.degraded, "signal_low");
  m.signal = 26;
  link->modem(m);
  EXPECT_EQ(fx.degraded, "");
  EXPECT_EQ(fx.seen("radio_degraded"), 1);
  EXPECT_EQ(fx.seen("radio_recovered"), 1);
}

TEST_F(ModemLinkTest, SimFailoverSwitchesAndPersists) {
  auto ext = std::make_shared<CellularLink>();
  SimFailoverConfig sc;
  sc.slots = {1, 2};
  sc.switch_after = 30s;
  sc.min_dwell = 0s;
  ext->sim = sc;
  make(cell_link(ext));
  link->service(true);
  link->modem(modem());
  backend.take("connect").connected(make_error("no service"), ConnectFailure::other);
  link->link_state(LinkState::down, LinkState::down);
  time.advance(30s);
  auto sw = backend.take("set_primary_slot");
  EXPECT_EQ(sw.number, 2);
  EXPECT_TRUE(fx.saw("sim_switch"));
  ASSERT_TRUE(fx.persisted);
  EXPECT_EQ(fx.persisted->slot, 2);
  EXPECT_EQ(fx.down, "sim_switching");
  sw.done(Result<void>{});
  // The modem leaves and comes back at a new path, on slot 2.
  link->modem(std::nullopt);
  EXPECT_EQ(link->phase(), Phase::switching_sim);
  ModemInfo m = modem("/org/freedesktop/ModemManager1/Modem/1");
  m.primary_slot = 2;
  link->modem(m);
  // The retry started before the switch answers late: it belongs to the old appearance.
  backend.take("connect").connected(bearer(true), ConnectFailure::none);
  EXPECT_NE(link->phase(), Phase::connected);
  backend.take("connect").connected(bearer(true), ConnectFailure::none);
  EXPECT_EQ(link->phase(), Phase::connected);
}

TEST_F(ModemLinkTest, VerbsNeedAModemAndCheckTheSlot) {
  make();
  EXPECT_FALSE(link->reconnect());
  connect_up();
  auto r = link->switch_slot(3);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("does not exist"), std::string::npos);
  EXPECT_FALSE(link->switch_slot(1));  // already active
  EXPECT_TRUE(link->switch_slot(2));
  EXPECT_EQ(backend.take("set_primary_slot").number, 2);
  EXPECT_TRUE(link->reset());
  EXPECT_TRUE(backend.has("reset"));
}

}  // namespace
}  // namespace uplink::cellular
