#include "core/topics.h"

namespace uplink {

nlohmann::json event_json(const LinkEvent& e) {
  return nlohmann::json{{"ts", format_wall_time(e.ts)},
                        {"link", e.link},
                        {"from", std::string(to_string(e.from))},
                        {"to", std::string(to_string(e.to))},
                        {"reason", e.reason}};
}

nlohmann::json event_json(const PolicyEvent& e) {
  return nlohmann::json{{"ts", format_wall_time(e.ts)},    {"policy", e.policy},
                        {"active_before", e.active_before}, {"active", e.active},
                        {"reason", e.reason},               {"cause_link", e.cause_link},
                        {"cause", e.cause}};
}

}  // namespace uplink
