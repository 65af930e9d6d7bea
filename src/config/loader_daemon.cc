// [daemon]
#include "common/ip.h"
#include "common/log.h"
#include "common/marks.h"
#include "config/loader_impl.h"

namespace uplink {

namespace {
constexpr uint32_t kRulePrioritySpan = 1000;
constexpr uint32_t kMainRulePriority = 32766;
}  // namespace

void Loader::load_daemon(const toml::table& t, DaemonConfig& d) {
  check_keys(t, Section::daemon, "daemon");
  auto w = [](std::string_view k) { return "daemon." + std::string(k); };
  read_key(t, "socket", [&](const toml::node& n) { d.socket = get_path(n, w("socket")); });
  read_key(t, "socket_group", [&](const toml::node& n) { d.socket_group = get_string(n, w("socket_group")); });
  read_key(t, "admin_group", [&](const toml::node& n) { d.admin_group = get_string(n, w("admin_group")); });
  read_key(t, "metrics_listen", [&](const toml::node& n) {
    std::string text = get_string(n, w("metrics_listen"));
    if (auto ep = IpEndpoint::parse(text); !ep)
      fail(n, w("metrics_listen"), "'" + text + "' " + ep.error().message + " (IP:PORT, e.g. \"127.0.0.1:9109\")");
    d.metrics_listen = text;
  });
  read_key(t, "state_dir", [&](const toml::node& n) { d.state_dir = get_path(n, w("state_dir")); });
  read_key(t, "hooks_dir", [&](const toml::node& n) { d.hooks_dir = get_path(n, w("hooks_dir")); });
  read_key(t, "hook_timeout", [&](const toml::node& n) { d.hook_timeout = get_duration(n, w("hook_timeout")); });
  read_key(t, "log_level", [&](const toml::node& n) {
    std::string level = get_string(n, w("log_level"));
    if (!is_valid_log_level(level)) {
      fail(n, w("log_level"), "invalid log level '" + level + "' (trace | debug | info | warn | error | critical | off)");
    }
    d.log_level = level;
  });
  read_key(t, "table_base", [&](const toml::node& n) {
    // Stay clear of the reserved tables 253..255 and of the 32-bit limit.
    d.table_base = static_cast<uint32_t>(get_int(n, w("table_base"), 1, 0x7fffffff));
  });
  bool mask_ok = read_key(t, "fwmark_mask", [&](const toml::node& n) {
    auto m = static_cast<uint32_t>(get_int(n, w("fwmark_mask"), 1, 0xffffffffLL));
    uint32_t low = m & (~m + 1);
    if (((m + low) & m) != 0) fail(n, w("fwmark_mask"), hex(m) + " is not one contiguous run of bits");
    if (auto layout = MarkLayout::from_mask(m); !layout) fail(n, w("fwmark_mask"), layout.error().message);
    d.fwmark_mask = m;
  });
  bool base_ok = read_key(t, "fwmark_base", [&](const toml::node& n) {
    d.fwmark_base = static_cast<uint32_t>(get_int(n, w("fwmark_base"), 1, 0xffffffffLL));
  });
  if (mask_ok && base_ok) {
    uint32_t m = d.fwmark_mask, low = m & (~m + 1);
    if ((d.fwmark_base & ~m) != 0 || d.fwmark_base % low != 0) {
      const toml::node* n = t.get("fwmark_base") ? t.get("fwmark_base") : t.get("fwmark_mask");
      report(*n, w(t.get("fwmark_base") ? "fwmark_base" : "fwmark_mask"),
             "fwmark_base " + hex(d.fwmark_base) + " is not a multiple of " + hex(low) + " inside fwmark_mask " +
                 hex(m));
      daemon_marks_ok_ = false;
    }
  } else {
    daemon_marks_ok_ = false;  // link marks are not checked against a mask that is wrong
  }
  read_key(t, "rule_priority_base", [&](const toml::node& n) {
    // uplinkd's rules must sort before the kernel's "main" rule (32766).
    d.rule_priority_base =
        static_cast<uint32_t>(get_int(n, w("rule_priority_base"), 1, kMainRulePriority - kRulePrioritySpan));
  });
  read_key(t, "fail_closed", [&](const toml::node& n) { d.fail_closed = get_bool(n, w("fail_closed")); });
}

}  // namespace uplink
