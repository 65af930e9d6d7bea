#pragma once
// One named spdlog logger per component ("probe", "policy", ...), all sharing
// one sink and one level. Secrets never go into log lines.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace uplink {

std::shared_ptr<spdlog::logger> get_logger(const std::string& component);
// "trace" | "debug" | "info" | "warn" | "error" | "critical" | "off"; false if unknown.
bool set_log_level(const std::string& level);
bool is_valid_log_level(const std::string& level);

}  // namespace uplink
