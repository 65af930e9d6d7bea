#include "cellular/modem_backend.h"

namespace uplink::cellular {

std::string_view to_string(ModemState s) {
  switch (s) {
    case ModemState::failed: return "failed";
    case ModemState::unknown: return "unknown";
    case ModemState::initializing: return "initializing";
    case ModemState::locked: return "locked";
    case ModemState::disabled: return "disabled";
    case ModemState::disabling: return "disabling";
    case ModemState::enabling: return "enabling";
    case ModemState::enabled: return "enabled";
    case ModemState::searching: return "searching";
    case ModemState::registered: return "registered";
    case ModemState::disconnecting: return "disconnecting";
    case ModemState::connecting: return "connecting";
    case ModemState::connected: return "connected";
  }
  return "unknown";
}

std::string_view to_string(Registration r) {
  switch (r) {
    case Registration::idle: return "idle";
    case Registration::home: return "home";
    case Registration::searching: return "searching";
    case Registration::denied: return "denied";
    case Registration::unknown: return "unknown";
    case Registration::roaming: return "roaming";
  }
  return "unknown";
}

std::string_view to_string(ConnectFailure f) {
  switch (f) {
    case ConnectFailure::none: return "none";
    case ConnectFailure::apn_rejected: return "apn_rejected";
    case ConnectFailure::auth_failed: return "auth_failed";
    case ConnectFailure::not_registered: return "not_registered";
    case ConnectFailure::timeout: return "timeout";
    case ConnectFailure::other: return "other";
  }
  return "other";
}

}  // namespace uplink::cellular
