#pragma once
// The seam between the cellular state machines (io thread, fake time in unit
// tests) and ModemManager (libmm-glib on the GLib thread, mm_backend.h).
//
//   CellularModule / ModemLink --- commands: enable, connect, disconnect, reset,
//        (io thread)                         set_primary_slot, send_pin, setup_signal --> ModemBackend
//                  <-- Listener: service up/down, modem added/changed/gone, bearer changed ---
//
// Every reply and notification arrives on the io thread. A modem is named by
// its D-Bus object path, which changes when the modem re-appears (SIM switch,
// reset); its equipment id (IMEI) does not.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/result.h"

namespace uplink::cellular {

// ModemManager's MMModemState, in its order (locked < ... < connected).
enum class ModemState { failed, unknown, initializing, locked, disabled, disabling, enabling, enabled, searching,
                        registered, disconnecting, connecting, connected };
std::string_view to_string(ModemState s);

enum class Registration { idle, home, searching, denied, unknown, roaming };
std::string_view to_string(Registration r);
inline bool registered(Registration r, bool roaming_allowed) {
  return r == Registration::home || (roaming_allowed && r == Registration::roaming);
}

struct ModemInfo {
  std::string path;          // /org/freedesktop/ModemManager1/Modem/N
  int index = -1;            // N
  std::string equipment_id;  // IMEI
  std::string primary_port;  // "cdc-wdm0"
  std::string manufacturer, model;
  ModemState state = ModemState::unknown;
  bool sim_locked = false;   // UnlockRequired is a SIM PIN/PUK
  Registration registration = Registration::unknown;
  std::string operator_name, operator_code;
  std::string access_tech;   // "lte", "umts", ... (lowest bit's name when several)
  int signal = 0;            // percent
  std::optional<double> rssi, rsrp, rsrq, sinr;  // the Signal interface (LTE), when set up
  int primary_slot = 0;      // 1-based; 0 = no slots
  int slot_count = 0;
  std::string sim_path;      // the active SIM's object path ("" none)
  bool operator==(const ModemInfo&) const = default;
};

struct BearerIp {
  enum class Method { unknown, ppp, static_ip, dhcp } method = Method::unknown;
  std::optional<IpPrefix> address;  // address/prefix
  std::optional<IpAddress> gateway;
  std::vector<IpAddress> dns;
  int mtu = 0;                      // 0 = not given
  bool operator==(const BearerIp&) const = default;
};

struct BearerInfo {
  std::string path;
  bool connected = false;
  std::string interface;  // the data interface ModemManager reports
  std::optional<BearerIp> ipv4, ipv6;
  bool operator==(const BearerInfo&) const = default;
};

struct ConnectRequest {
  std::string apn, user, password;  // password: never logged
  std::string ip_type = "ipv4v6";   // ipv4 | ipv6 | ipv4v6
  bool allow_roaming = false;
};

// Why a connect failed, as the state machines treat it.
enum class ConnectFailure { none, apn_rejected, auth_failed, not_registered, timeout, other };
std::string_view to_string(ConnectFailure f);

class ModemBackend {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void on_service(bool available) = 0;         // ModemManager on the bus (or gone)
    virtual void on_modem(const ModemInfo& modem) = 0;     // appeared or changed
    virtual void on_modem_gone(const std::string& path) = 0;
    virtual void on_bearer(const std::string& modem_path, const BearerInfo& bearer) = 0;
  };
  using Done = std::function<void(Result<void>)>;
  using Connected = std::function<void(Result<BearerInfo>, ConnectFailure)>;

  virtual ~ModemBackend() = default;
  virtual void start(Listener& listener) = 0;
  virtual void stop() = 0;
  virtual void enable(const std::string& modem, Done done) = 0;
  virtual void connect(const std::string& modem, const ConnectRequest& request, Connected done) = 0;
  virtual void disconnect(const std::string& modem, Done done) = 0;  // every bearer of the modem
  virtual void reset(const std::string& modem, Done done) = 0;
  virtual void set_primary_slot(const std::string& modem, int slot, Done done) = 0;
  virtual void send_pin(const std::string& modem, const std::string& pin, Done done) = 0;
  // Asks for extended signal figures every `seconds` (0 = off).
  virtual void setup_signal(const std::string& modem, int seconds, Done done) = 0;
};

}  // namespace uplink::cellular
