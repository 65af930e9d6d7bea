#include "cellular/mm_backend.h"

#include <libmm-glib.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "common/glib_loop.h"
#include "common/log.h"

namespace uplink::cellular {

namespace {

auto log() { return get_logger("cellular"); }

constexpr guint kRebindSeconds = 2;  // bus or ModemManager gone: try again this often

ModemState state_of(MMModemState s) {
  switch (s) {
    case MM_MODEM_STATE_FAILED: return ModemState::failed;
    case MM_MODEM_STATE_INITIALIZING: return ModemState::initializing;
    case MM_MODEM_STATE_LOCKED: return ModemState::locked;
    case MM_MODEM_STATE_DISABLED: return ModemState::disabled;
    case MM_MODEM_STATE_DISABLING: return ModemState::disabling;
    case MM_MODEM_STATE_ENABLING: return ModemState::enabling;
    case MM_MODEM_STATE_ENABLED: return ModemState::enabled;
    case MM_MODEM_STATE_SEARCHING: return ModemState::searching;
    case MM_MODEM_STATE_REGISTERED: return ModemState::registered;
    case MM_MODEM_STATE_DISCONNECTING: return ModemState::disconnecting;
    case MM_MODEM_STATE_CONNECTING: return ModemState::connecting;
    case MM_MODEM_STATE_CONNECTED: return ModemState::connected;
    default: return ModemState::unknown;
  }
}

Registration registration_of(MMModem3gppRegistrationState s) {
  switch (s) {
    case MM_MODEM_3GPP_REGISTRATION_STATE_IDLE: return Registration::idle;
    case MM_MODEM_3GPP_REGISTRATION_STATE_HOME:
    case MM_MODEM_3GPP_REGISTRATION_STATE_HOME_CSFB_NOT_PREFERRED: return Registration::home;
    case MM_MODEM_3GPP_REGISTRATION_STATE_SEARCHING: return Registration::searching;
    case MM_MODEM_3GPP_REGISTRATION_STATE_ROAMING:
    case MM_MODEM_3GPP_REGISTRATION_STATE_ROAMING_CSFB_NOT_PREFERRED: return Registration::roaming;
    case MM_MODEM_3GPP_REGISTRATION_STATE_UNKNOWN: return Registration::unknown;
    default: return Registration::denied;  // denied, SMS-only, emergency-only: no data
  }
}

std::string str(const gchar* s) { return s ? s : ""; }

std::optional<double> signal_value(gdouble v) {
  if (v == MM_SIGNAL_UNKNOWN) return std::nullopt;
  return v;
}

int path_index(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return -1;
  return std::atoi(path.c_str() + slash + 1);
}

std::optional<BearerIp> ip_of(MMBearerIpConfig* c) {
  if (!c) return std::nullopt;
  BearerIp ip;
  switch (mm_bearer_ip_config_get_method(c)) {
    case MM_BEARER_IP_METHOD_PPP: ip.method = BearerIp::Method::ppp; break;
    case MM_BEARER_IP_METHOD_STATIC: ip.method = BearerIp::Method::static_ip; break;
    case MM_BEARER_IP_METHOD_DHCP: ip.method = BearerIp::Method::dhcp; break;
    default: ip.method = BearerIp::Method::unknown; break;
  }
  if (auto a = IpAddress::parse(str(mm_bearer_ip_config_get_address(c)))) {
    int max = a->is_v4() ? 32 : 128;
    int len = static_cast<int>(mm_bearer_ip_config_get_prefix(c));
    ip.address = IpPrefix{*a, (len > 0 && len <= max) ? len : max};
  }
  if (auto g = IpAddress::parse(str(mm_bearer_ip_config_get_gateway(c)))) ip.gateway = *g;
  if (const gchar** dns = mm_bearer_ip_config_get_dns(c))
    for (; *dns; ++dns)
      if (auto d = IpAddress::parse(*dns)) ip.dns.push_back(*d);
  ip.mtu = static_cast<int>(mm_bearer_ip_config_get_mtu(c));
  if (ip.method == BearerIp::Method::unknown && !ip.address) return std::nullopt;
  return ip;
}

BearerInfo bearer_of(MMBearer* b) {
  BearerInfo info;
  info.path = str(mm_bearer_get_path(b));
  info.connected = mm_bearer_get_connected(b);
  info.interface = str(mm_bearer_get_interface(b));
  if (info.connected) {
    MMBearerIpConfig* v4 = mm_bearer_get_ipv4_config(b);
    info.ipv4 = ip_of(v4);
    if (v4) g_object_unref(v4);
    MMBearerIpConfig* v6 = mm_bearer_get_ipv6_config(b);
    info.ipv6 = ip_of(v6);
    if (v6) g_object_unref(v6);
  }
  return info;
}

ModemInfo modem_of(MMObject* obj) {
  ModemInfo m;
  m.path = str(mm_object_get_path(obj));
  m.index = path_index(m.path);
  MMModem* modem = mm_object_peek_modem(obj);
  if (!modem) return m;
  m.equipment_id = str(mm_modem_get_equipment_identifier(modem));
  m.primary_port = str(mm_modem_get_primary_port(modem));
  m.manufacturer = str(mm_modem_get_manufacturer(modem));
  m.model = str(mm_modem_get_model(modem));
  m.state = state_of(mm_modem_get_state(modem));
  MMModemLock lock = mm_modem_get_unlock_required(modem);
  m.sim_locked = lock == MM_MODEM_LOCK_SIM_PIN || lock == MM_MODEM_LOCK_SIM_PUK || lock == MM_MODEM_LOCK_SIM_PIN2 ||
                 lock == MM_MODEM_LOCK_SIM_PUK2;
  gboolean recent = FALSE;
  m.signal = static_cast<int>(mm_modem_get_signal_quality(modem, &recent));
  if (gchar* tech = mm_modem_access_technology_build_string_from_mask(mm_modem_get_access_technologies(modem))) {
    m.access_tech = tech;
    g_free(tech);
  }
  m.primary_slot = static_cast<int>(mm_modem_get_primary_sim_slot(modem));
  if (const gchar* const* slots = mm_modem_get_sim_slot_paths(modem))
    for (; *slots; ++slots) ++m.slot_count;
  std::string sim = str(mm_modem_get_sim_path(modem));
  m.sim_path = sim == "/" ? "" : sim;
  if (MMModem3gpp* g = mm_object_peek_modem_3gpp(obj)) {
    m.registration = registration_of(mm_modem_3gpp_get_registration_state(g));
    m.operator_name = str(mm_modem_3gpp_get_operator_name(g));
    m.operator_code = str(mm_modem_3gpp_get_operator_code(g));
  }
  if (MMModemSignal* s = mm_object_peek_modem_signal(obj)) {
    if (MMSignal* lte = mm_modem_signal_peek_lte(s)) {
      m.rssi = signal_value(mm_signal_get_rssi(lte));
      m.rsrp = signal_value(mm_signal_get_rsrp(lte));
      m.rsrq = signal_value(mm_signal_get_rsrq(lte));
      m.sinr = signal_value(mm_signal_get_snr(lte));
      if (!m.sinr) m.sinr = signal_value(mm_signal_get_sinr(lte));
    }
  }
  return m;
}

ConnectFailure failure_of(const GError* e) {
  if (!e) return ConnectFailure::other;
  if (e->domain == MM_MOBILE_EQUIPMENT_ERROR) {
    switch (e->code) {
      case MM_MOBILE_EQUIPMENT_ERROR_MISSING_OR_UNKNOWN_APN:
      case MM_MOBILE_EQUIPMENT_ERROR_SERVICE_OPTION_NOT_SUBSCRIBED:
      case MM_MOBILE_EQUIPMENT_ERROR_REQUESTED_APN_NOT_SUPPORTED: return ConnectFailure::apn_rejected;
      case MM_MOBILE_EQUIPMENT_ERROR_USER_AUTHENTICATION_FAILED:
      case MM_MOBILE_EQUIPMENT_ERROR_PDP_AUTH_FAILURE: return ConnectFailure::auth_failed;
      default: break;
    }
  }
  if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) return ConnectFailure::timeout;
  if (g_error_matches(e, MM_CORE_ERROR, MM_CORE_ERROR_WRONG_STATE)) return ConnectFailure::not_registered;
  // Unmapped D-Bus errors (another ModemManager version): by name.
  std::string msg = e->message ? e->message : "";
  if (msg.find("Apn") != std::string::npos || msg.find("NotSubscribed") != std::string::npos)
    return ConnectFailure::apn_rejected;
  if (msg.find("AuthenticationFailed") != std::string::npos) return ConnectFailure::auth_failed;
  return ConnectFailure::other;
}

std::string error_text(const GError* e) {
  if (!e) return "unknown error";
  gchar* remote = g_dbus_error_get_remote_error(e);
  std::string s = e->message ? e->message : "error";
  if (remote) {
    // Messages carry the D-Bus name in front ("GDBus.Error:org...: text"): keep the text.
    g_free(remote);
  }
  return s;
}

}  // namespace

// All state below is touched on the GLib thread only, except `results`,
// `listener` (read on the io thread) and `stopped` (guarded).
struct MmBackend::Impl : std::enable_shared_from_this<MmBackend::Impl> {
  explicit Impl(Executor& r) : results(r) {}

  Executor& results;
  // GLib's default context: libmm-glib's object manager initialises in a GIO
  // worker thread and subscribes its D-Bus signals on the global default context.
  GlibLoop loop{"uplinkd-mm", /*default_context=*/true};
  Listener* listener = nullptr;  // io thread
  std::mutex mutex;
  bool stopped = false;

  // GLib thread:
  GCancellable* cancel = nullptr;
  GDBusConnection* bus = nullptr;
  MMManager* manager = nullptr;
  std::vector<gulong> manager_handlers;
  gulong bus_closed_handler = 0;
  bool available = false;
  struct Watched {
    GObject* object;
    gulong handler;
  };
  struct ModemEntry {
    MMObject* object = nullptr;
    std::vector<Watched> watched;             // property-change handlers on its interfaces
    std::map<std::string, MMBearer*> bearers;  // by path, with a handler each
    std::map<std::string, gulong> bearer_handlers;
    bool listing = false;
  };
  std::map<std::string, ModemEntry> modems;
  GSource* rebind = nullptr;

  // ---- posting to the io thread ----
  template <class F>
  void to_io(F f) {
    std::lock_guard lock(mutex);
    if (stopped) return;
    results.post([self = shared_from_this(), f = std::move(f)]() mutable {
      if (self->listener) f(*self->listener);
    });
  }
  void reply(std::function<void()> f) {
    std::lock_guard lock(mutex);
    if (stopped) return;
    results.post(std::move(f));
  }

  // ---- binding to the bus and ModemManager ----
  void bind() {
    if (!cancel) cancel = g_cancellable_new();
    GError* err = nullptr;
    gchar* address = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, cancel, &err);
    if (!address) {
      unavailable(std::string("no system bus address: ") + error_text(err));
      g_clear_error(&err);
      return;
    }
    // A private connection: the shared one exits the process when the bus goes away.
    auto* self = new std::shared_ptr<Impl>(shared_from_this());
    g_dbus_connection_new_for_address(
        address,
        static_cast<GDBusConnectionFlags>(G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                          G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION),
        nullptr, cancel,
        [](GObject*, GAsyncResult* res, gpointer data) {
          std::unique_ptr<std::shared_ptr<Impl>> s(static_cast<std::shared_ptr<Impl>*>(data));
          GError* e = nullptr;
          GDBusConnection* c = g_dbus_connection_new_for_address_finish(res, &e);
          if (!c) {
            if (!g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
              (*s)->unavailable("system bus: " + error_text(e));
            g_clear_error(&e);
            return;
          }
          (*s)->on_bus(c);
        },
        self);
    g_free(address);
  }

  void on_bus(GDBusConnection* c) {
    bus = c;
    g_dbus_connection_set_exit_on_close(bus, FALSE);
    bus_closed_handler = g_signal_connect(bus, "closed", G_CALLBACK(+[](GDBusConnection*, gboolean, GError*, gpointer d) {
                                            static_cast<Impl*>(d)->unavailable("the system bus connection closed");
                                          }),
                                          this);
    auto* self = new std::shared_ptr<Impl>(shared_from_this());
    mm_manager_new(
        bus, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, cancel,
        [](GObject*, GAsyncResult* res, gpointer data) {
          std::unique_ptr<std::shared_ptr<Impl>> s(static_cast<std::shared_ptr<Impl>*>(data));
          GError* e = nullptr;
          MMManager* m = mm_manager_new_finish(res, &e);
          if (!m) {
            if (!g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
              (*s)->unavailable("ModemManager client: " + error_text(e));
            g_clear_error(&e);
            return;
          }
          (*s)->on_manager(m);
        },
        self);
  }

  void on_manager(MMManager* m) {
    manager = m;
    manager_handlers.push_back(g_signal_connect(
        manager, "notify::name-owner", G_CALLBACK(+[](GObject*, GParamSpec*, gpointer d) {
          static_cast<Impl*>(d)->owner_changed();
        }),
        this));
    manager_handlers.push_back(g_signal_connect(
        manager, "object-added", G_CALLBACK(+[](GDBusObjectManager*, GDBusObject* o, gpointer d) {
          static_cast<Impl*>(d)->object_changed(MM_OBJECT(o));
        }),
        this));
    manager_handlers.push_back(g_signal_connect(
        manager, "object-removed", G_CALLBACK(+[](GDBusObjectManager*, GDBusObject* o, gpointer d) {
          static_cast<Impl*>(d)->object_removed(str(g_dbus_object_get_object_path(o)));
        }),
        this));
    // Interfaces come and go on a live modem (Modem3gpp, Signal after enabling).
    manager_handlers.push_back(g_signal_connect(
        manager, "interface-added", G_CALLBACK(+[](GDBusObjectManager*, GDBusObject* o, GDBusInterface*, gpointer d) {
          static_cast<Impl*>(d)->object_changed(MM_OBJECT(o));
        }),
        this));
    manager_handlers.push_back(g_signal_connect(
        manager, "interface-removed", G_CALLBACK(+[](GDBusObjectManager*, GDBusObject* o, GDBusInterface*, gpointer d) {
          static_cast<Impl*>(d)->object_changed(MM_OBJECT(o));
        }),
        this));
    owner_changed();
  }

  void owner_changed() {
    gchar* owner = g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(manager));
    const bool present = owner != nullptr;
    g_free(owner);
    if (!present) {
      drop_modems();
      if (available || !announced) set_available(false, "ModemManager is not on the bus");
      return;
    }
    set_available(true, "");
    GList* objects = g_dbus_object_manager_get_objects(G_DBUS_OBJECT_MANAGER(manager));
    for (GList* l = objects; l; l = l->next) object_changed(MM_OBJECT(l->data));
    g_list_free_full(objects, g_object_unref);
  }

  bool announced = false;
  void set_available(bool yes, const std::string& why) {
    if (announced && yes == available) return;
    announced = true;
    available = yes;
    if (yes) log()->info("ModemManager is on the bus");
    else log()->warn("ModemManager unavailable: {}", why);
    to_io([yes](Listener& l) { l.on_service(yes); });
  }

  // Bus, connection or client failed: drop everything, report, rebind later.
  void unavailable(const std::string& why) {
    drop_modems();
    drop_manager();
    if (bus) {
      if (bus_closed_handler) g_signal_handler_disconnect(bus, bus_closed_handler);
      bus_closed_handler = 0;
      g_object_unref(bus);
      bus = nullptr;
    }
    if (available || !announced) set_available(false, why);
    else log()->debug("ModemManager still unavailable: {}", why);
    if (rebind) return;
    rebind = g_timeout_source_new_seconds(kRebindSeconds);
    g_source_set_callback(
        rebind,
        [](gpointer d) -> gboolean {
          auto* self = static_cast<Impl*>(d);
          g_source_unref(self->rebind);
          self->rebind = nullptr;
          self->bind();
          return G_SOURCE_REMOVE;
        },
        this, nullptr);
    g_source_attach(rebind, static_cast<GMainContext*>(loop.context()));
  }

  void drop_manager() {
    if (!manager) return;
    for (gulong h : manager_handlers) g_signal_handler_disconnect(manager, h);
    manager_handlers.clear();
    g_object_unref(manager);
    manager = nullptr;
  }

  // ---- modems ----
  void unwatch(ModemEntry& e) {
    for (auto& w : e.watched) {
      g_signal_handler_disconnect(w.object, w.handler);
      g_object_unref(w.object);
    }
    e.watched.clear();
  }
  void drop_bearers(ModemEntry& e) {
    for (auto& [path, b] : e.bearers) {
      g_signal_handler_disconnect(b, e.bearer_handlers[path]);
      g_object_unref(b);
    }
    e.bearers.clear();
    e.bearer_handlers.clear();
  }
  void drop_modems() {
    for (auto& [path, e] : modems) {
      unwatch(e);
      drop_bearers(e);
      g_object_unref(e.object);
      to_io([path = path](Listener& l) { l.on_modem_gone(path); });
    }
    modems.clear();
  }

  static void props_changed(GDBusProxy* proxy, GVariant*, GStrv, gpointer d) {
    auto* self = static_cast<Impl*>(d);
    auto it = self->modems.find(str(g_dbus_proxy_get_object_path(proxy)));
    if (it != self->modems.end()) self->report_modem(it->second);
  }

  void watch(ModemEntry& e, gpointer iface) {
    if (!iface) return;
    GObject* o = G_OBJECT(iface);
    e.watched.push_back({G_OBJECT(g_object_ref(o)), g_signal_connect(o, "g-properties-changed", G_CALLBACK(props_changed), this)});
  }

  void object_changed(MMObject* obj) {
    if (!mm_object_peek_modem(obj)) return;
    const std::string path = str(mm_object_get_path(obj));
    auto [it, fresh] = modems.try_emplace(path);
    ModemEntry& e = it->second;
    if (fresh) e.object = MM_OBJECT(g_object_ref(obj));
    unwatch(e);
    watch(e, mm_object_peek_modem(obj));
    watch(e, mm_object_peek_modem_3gpp(obj));
    watch(e, mm_object_peek_modem_signal(obj));
    if (fresh) log()->info("modem {} ({})", path, str(mm_modem_get_equipment_identifier(mm_object_peek_modem(obj))));
    report_modem(e);
  }

  void object_removed(const std::string& path) {
    auto it = modems.find(path);
    if (it == modems.end()) return;
    unwatch(it->second);
    drop_bearers(it->second);
    g_object_unref(it->second.object);
    modems.erase(it);
    log()->info("modem {} removed", path);
    to_io([path](Listener& l) { l.on_modem_gone(path); });
  }

  void report_modem(ModemEntry& e) {
    ModemInfo info = modem_of(e.object);
    to_io([info](Listener& l) { l.on_modem(info); });
    track_bearers(e);
  }

  // Bearers we do not follow yet (after a connect, at start-up: adoption of a connected one).
  void track_bearers(ModemEntry& e) {
    MMModem* modem = mm_object_peek_modem(e.object);
    if (!modem || e.listing) return;
    bool unknown = false;
    if (const gchar* const* paths = mm_modem_get_bearer_paths(modem))
      for (; *paths; ++paths)
        if (!e.bearers.count(*paths)) unknown = true;
    if (!unknown) return;
    e.listing = true;
    struct Ctx {
      std::shared_ptr<Impl> self;
      std::string modem;
    };
    mm_modem_list_bearers(
        modem, cancel,
        [](GObject* src, GAsyncResult* res, gpointer data) {
          std::unique_ptr<Ctx> c(static_cast<Ctx*>(data));
          GError* err = nullptr;
          GList* list = mm_modem_list_bearers_finish(MM_MODEM(src), res, &err);
          auto it = c->self->modems.find(c->modem);
          if (it != c->self->modems.end()) it->second.listing = false;
          if (err) {
            g_clear_error(&err);
            return;
          }
          for (GList* l = list; l; l = l->next)
            if (it != c->self->modems.end()) c->self->follow_bearer(it->second, c->modem, MM_BEARER(l->data));
          g_list_free_full(list, g_object_unref);
        },
        new Ctx{shared_from_this(), str(mm_object_get_path(e.object))});
  }

  void follow_bearer(ModemEntry& e, const std::string& modem_path, MMBearer* b) {
    const std::string path = str(mm_bearer_get_path(b));
    if (!e.bearers.count(path)) {
      e.bearers[path] = MM_BEARER(g_object_ref(b));
      e.bearer_handlers[path] = g_signal_connect(
          b, "g-properties-changed", G_CALLBACK(+[](GDBusProxy* p, GVariant*, GStrv, gpointer d) {
            auto* self = static_cast<Impl*>(d);
            for (auto& [mpath, entry] : self->modems) {
              auto bit = entry.bearers.find(str(g_dbus_proxy_get_object_path(p)));
              if (bit == entry.bearers.end()) continue;
              BearerInfo info = bearer_of(bit->second);
              self->to_io([mpath = mpath, info](Listener& l) { l.on_bearer(mpath, info); });
              return;
            }
          }),
          this);
    }
    BearerInfo info = bearer_of(b);
    to_io([modem_path, info](Listener& l) { l.on_bearer(modem_path, info); });
  }

  MMObject* find(const std::string& path) {
    auto it = modems.find(path);
    return it == modems.end() ? nullptr : it->second.object;
  }

  void stop_all() {
    if (cancel) g_cancellable_cancel(cancel);
    if (rebind) {
      g_source_destroy(rebind);
      g_source_unref(rebind);
      rebind = nullptr;
    }
    for (auto& [path, e] : modems) {
      unwatch(e);
      drop_bearers(e);
      g_object_unref(e.object);
    }
    modems.clear();
    drop_manager();
    if (bus) {
      if (bus_closed_handler) g_signal_handler_disconnect(bus, bus_closed_handler);
      g_object_unref(bus);
      bus = nullptr;
    }
    if (cancel) {
      g_object_unref(cancel);
      cancel = nullptr;
    }
  }
};

namespace {

// One asynchronous call: the reply goes to the io thread.
struct Call {
  std::shared_ptr<MmBackend::Impl> self;
  ModemBackend::Done done;
  std::string what;
};

void finish_bool(Call* c, gboolean ok, GError* err) {
  std::unique_ptr<Call> call(c);
  Result<void> r;
  if (!ok) r = make_error(call->what + ": " + error_text(err));
  g_clear_error(&err);
  call->self->reply([done = std::move(call->done), r]() { done(r); });
}

}  // namespace

MmBackend::MmBackend(Executor& results) : impl_(std::make_shared<Impl>(results)) {}

MmBackend::~MmBackend() { stop(); }

void MmBackend::start(Listener& listener) {
  impl_->listener = &listener;
  impl_->loop.post([self = impl_] { self->bind(); });
}

void MmBackend::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  impl_->listener = nullptr;
  impl_->loop.post([self = impl_] { self->stop_all(); });
  impl_->loop.stop();
}

#define UPLINK_MM_MODEM_OR_FAIL(path, done, what)                                          \
  MMObject* obj = self->find(path);                                                       \
  MMModem* modem = obj ? mm_object_peek_modem(obj) : nullptr;                             \
  if (!modem) {                                                                           \
    self->reply([done, p = path]() { done(make_error(std::string(what) + ": modem " + p + " is gone")); }); \
    return;                                                                               \
  }

void MmBackend::enable(const std::string& path, Done done) {
  impl_->loop.post([self = impl_, path, done = std::move(done)] {
    UPLINK_MM_MODEM_OR_FAIL(path, done, "enable");
    mm_modem_enable(
        modem, self->cancel,
        [](GObject* src, GAsyncResult* res, gpointer d) {
          GError* e = nullptr;
          gboolean ok = mm_modem_enable_finish(MM_MODEM(src), res, &e);
          finish_bool(static_cast<Call*>(d), ok, e);
        },
        new Call{self, done, "enable"});
  });
}

void MmBackend::connect(const std::string& path, const ConnectRequest& request, Connected done) {
  impl_->loop.post([self = impl_, path, request, done = std::move(done)] {
    MMObject* obj = self->find(path);
    MMModemSimple* simple = obj ? mm_object_peek_modem_simple(obj) : nullptr;
    if (!simple) {
      self->reply([done, path] { done(make_error("connect: modem " + path + " is gone or has no Simple interface"), ConnectFailure::other); });
      return;
    }
    MMSimpleConnectProperties* props = mm_simple_connect_properties_new();
    mm_simple_connect_properties_set_apn(props, request.apn.c_str());
    if (!request.user.empty()) mm_simple_connect_properties_set_user(props, request.user.c_str());
    if (!request.password.empty()) mm_simple_connect_properties_set_password(props, request.password.c_str());
    MMBearerIpFamily family = request.ip_type == "ipv4"   ? MM_BEARER_IP_FAMILY_IPV4
                              : request.ip_type == "ipv6" ? MM_BEARER_IP_FAMILY_IPV6
                                                          : MM_BEARER_IP_FAMILY_IPV4V6;
    mm_simple_connect_properties_set_ip_type(props, family);
    mm_simple_connect_properties_set_allow_roaming(props, request.allow_roaming);
    struct Ctx {
      std::shared_ptr<Impl> self;
      std::string modem;
      Connected done;
    };
    mm_modem_simple_connect(
        simple, props, self->cancel,
        [](GObject* src, GAsyncResult* res, gpointer d) {
          std::unique_ptr<Ctx> c(static_cast<Ctx*>(d));
          GError* e = nullptr;
          MMBearer* b = mm_modem_simple_connect_finish(MM_MODEM_SIMPLE(src), res, &e);
          if (!b) {
            ConnectFailure why = failure_of(e);
            std::string msg = error_text(e);
            g_clear_error(&e);
            c->self->reply([done = std::move(c->done), msg, why] { done(make_error(msg), why); });
            return;
          }
          BearerInfo info = bearer_of(b);
          auto it = c->self->modems.find(c->modem);
          if (it != c->self->modems.end()) c->self->follow_bearer(it->second, c->modem, b);
          g_object_unref(b);
          c->self->reply([done = std::move(c->done), info] { done(info, ConnectFailure::none); });
        },
        new Ctx{self, path, done});
    g_object_unref(props);
  });
}

void MmBackend::disconnect(const std::string& path, Done done) {
  impl_->loop.post([self = impl_, path, done = std::move(done)] {
    MMObject* obj = self->find(path);
    MMModemSimple* simple = obj ? mm_object_peek_modem_simple(obj) : nullptr;
    if (!simple) {
      self->reply([done, path] { done(make_error("disconnect: modem " + path + " is gone")); });
      return;
    }
    mm_modem_simple_disconnect(
        simple, nullptr /* every bearer */, self->cancel,
        [](GObject* src, GAsyncResult* res, gpointer d) {
          GError* e = nullptr;
          gboolean ok = mm_modem_simple_disconnect_finish(MM_MODEM_SIMPLE(src), res, &e);
          finish_bool(static_cast<Call*>(d), ok, e);
        },
        new Call{self, done, "disconnect"});
  });
}

void MmBackend::reset(const std::string& path, Done done) {
  impl_->loop.post([self = impl_, path, done = std::move(done)] {
    UPLINK_MM_MODEM_OR_FAIL(path, done, "reset");
    mm_modem_reset(
        modem, self->cancel,
        [](GObject* src, GAsyncResult* res, gpointer d) {
          GError* e = nullptr;
          gboolean ok = mm_modem_reset_finish(MM_MODEM(src), res, &e);
          finish_bool(static_cast<Call*>(d), ok, e);
        },
        new Call{self, done, "reset"});
  });
}

void MmBackend::set_primary_slot(const std::string& path, int slot, Done done) {
  impl_->loop.post([self = impl_, path, slot, done = std::move(done)] {
    UPLINK_MM_MODEM_OR_FAIL(path, done, "set primary SIM slot");
    mm_modem_set_primary_sim_slot(
        modem, static_cast<guint>(slot), self->cancel,
        [](GObject* src, GAsyncResult* res, gpointer d) {
          GError* e = nullptr;
          gboolean ok = mm_modem_set_primary_sim_slot_finish(MM_MODEM(src), res, &e);
          finish_bool(static_cast<Call*>(d), ok, e);
        },
        new Call{self, done, "set primary SIM slot"});
  });
}

void MmBackend::send_pin(const std::string& path, const std::string& pin, Done done) {
  impl_->loop.post([self = impl_, path, pin, done = std::move(done)] {
    UPLINK_MM_MODEM_OR_FAIL(path, done, "send PIN");
    struct Ctx {
      std::shared_ptr<Impl> self;
      std::string pin;
      Done done;
    };
    mm_modem_get_sim(
        modem, self->cancel,
        [](GObject* src, GAsyncResult* res, gpointer d) {
          std::unique_ptr<Ctx> c(static_cast<Ctx*>(d));
          GError* e = nullptr;
          MMSim* sim = mm_modem_get_sim_finish(MM_MODEM(src), res, &e);
          if (!sim) {
            finish_bool(new Call{c->self, std::move(c->done), "send PIN: no SIM"}, FALSE, e);
            return;
          }
          mm_sim_send_pin(
              sim, c->pin.c_str(), c->self->cancel,
              [](GObject* s, GAsyncResult* r, gpointer dd) {
                GError* err = nullptr;
                gboolean ok = mm_sim_send_pin_finish(MM_SIM(s), r, &err);
                finish_bool(static_cast<Call*>(dd), ok, err);
              },
              new Call{c->self, std::move(c->done), "send PIN"});
          g_object_unref(sim);
        },
        new Ctx{self, pin, done});
  });
}

void MmBackend::setup_signal(const std::string& path, int seconds, Done done) {
  impl_->loop.post([self = impl_, path, seconds, done = std::move(done)] {
    MMObject* obj = self->find(path);
    MMModemSignal* sig = obj ? mm_object_peek_modem_signal(obj) : nullptr;
    if (!sig) {
      self->reply([done, path] { done(make_error("signal setup: modem " + path + " has no Signal interface")); });
      return;
    }
    mm_modem_signal_setup(
        sig, static_cast<guint>(seconds), self->cancel,
        [](GObject* src, GAsyncResult* res, gpointer d) {
          GError* e = nullptr;
          gboolean ok = mm_modem_signal_setup_finish(MM_MODEM_SIGNAL(src), res, &e);
          finish_bool(static_cast<Call*>(d), ok, e);
        },
        new Call{self, done, "signal setup"});
  });
}

}  // namespace uplink::cellular
