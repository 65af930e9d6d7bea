#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace uplink {

namespace {
std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::sink_ptr shared_sink() {
  // stderr: stdout is free for --check-config results; journald captures both.
  static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  return sink;
}

bool parse_level(const std::string& s, spdlog::level::level_enum& out) {
  static const std::pair<const char*, spdlog::level::level_enum> levels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (const auto& [n, l] : levels) {
    if (s == n) {
      out = l;
      return true;
    }
  }
  return false;
}
}  // namespace

std::shared_ptr<spdlog::logger> get_logger(const std::string& component) {
  std::lock_guard lk(g_mu);
  if (auto l = spdlog::get(component)) return l;
  auto l = std::make_shared<spdlog::logger>(component, shared_sink());
  l->set_level(g_level);
  l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v", spdlog::pattern_time_type::utc);
  spdlog::register_logger(l);
  return l;
}

bool is_valid_log_level(const std::string& level) {
  spdlog::level::level_enum l;
  return parse_level(level, l);
}

bool set_log_level(const std::string& level) {
  spdlog::level::level_enum l;
  if (!parse_level(level, l)) return false;
  std::lock_guard lk(g_mu);
  g_level = l;
  spdlog::apply_all([l](std::shared_ptr<spdlog::logger> lg) { lg->set_level(l); });
  return true;
}

}  // namespace uplink
