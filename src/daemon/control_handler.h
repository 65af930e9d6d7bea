#pragma once
// Control-protocol commands (control/protocol.h) -> Daemon operations.
// Read commands build JSON views; write commands become one text edit of the
// configuration file (config/editor.h) applied through Daemon::edit_config.
#include <functional>

#include "control/server.h"
#include "daemon/daemon.h"

namespace uplink {

class ControlHandler final : public control::RequestHandler {
 public:
  explicit ControlHandler(Daemon& daemon) : daemon_(daemon) {}
  control::Reply handle(const control::Request& req) override;

  // Extra metric lines gathered outside the daemon core (e.g. connections).
  void set_metrics_extra(std::function<std::string()> fn) { metrics_extra_ = std::move(fn); }
  // The Prometheus text `metrics` answers (also served by daemon.metrics_listen).
  std::string metrics() const;

 private:
  control::Reply link_show(const control::Request& req);
  control::Reply link_add(const control::Request& req);
  control::Reply link_set(const control::Request& req);
  control::Reply policy_show(const control::Request& req);
  control::Reply policy_add(const control::Request& req);
  control::Reply policy_set(const control::Request& req);
  control::Reply rule_show(const control::Request& req);
  control::Reply rule_add(const control::Request& req);
  control::Reply rule_set(const control::Request& req);
  control::Reply edit(const Daemon::TextEdit& fn, nlohmann::json result);

  Daemon& daemon_;
  std::function<std::string()> metrics_extra_;
};

}  // namespace uplink
