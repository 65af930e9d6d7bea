#include "policy/hooks_module.h"

#include <boost/asio/io_context.hpp>

#include "common/log.h"
#include "common/strings.h"

namespace uplink {

HooksModule::HooksModule(ModuleContext& ctx)
    : HooksModule(ctx, [&io = ctx.services.get<boost::asio::io_context>(), &time = ctx.time](
                           const std::string& dir, Duration timeout) -> std::unique_ptr<HookRunner> {
        return std::make_unique<ProcessHookRunner>(io, time, dir, timeout);
      }) {}

HooksModule::HooksModule(ModuleContext& ctx, RunnerFactory factory) : bus_(ctx.bus), factory_(std::move(factory)) {
  sub_link_ = bus_.subscribe<LinkEvent>([this](const LinkEvent& e) {
    if (runner_)
      runner_->run({.event = "link", .link = e.link, .from = std::string(to_string(e.from)),
                    .to = std::string(to_string(e.to)), .reason = e.reason, .policy = "", .active = {}});
  });
  sub_policy_ = bus_.subscribe<PolicyEvent>([this](const PolicyEvent& e) {
    if (runner_)
      runner_->run({.event = "policy", .link = e.cause_link, .from = join(e.active_before), .to = join(e.active),
                    .reason = e.reason, .policy = e.policy, .active = e.active});
  });
}

HooksModule::~HooksModule() {
  bus_.unsubscribe(sub_link_);
  bus_.unsubscribe(sub_policy_);
}

Result<void> HooksModule::apply(const Config& next, const ConfigDiff& /*diff*/) {
  if (runner_ && next.daemon.hooks_dir == dir_ && next.daemon.hook_timeout == timeout_) return {};
  std::unique_ptr<HookRunner> fresh;
  try {
    fresh = factory_(next.daemon.hooks_dir, next.daemon.hook_timeout);
  } catch (const std::exception& e) {
    return make_error("hooks: cannot use " + next.daemon.hooks_dir + ": " + e.what());
  }
  if (runner_) get_logger("hooks")->info("hooks_dir is now {} (timeout {} ms)", next.daemon.hooks_dir,
                                         std::chrono::duration_cast<std::chrono::milliseconds>(next.daemon.hook_timeout).count());
  runner_ = std::move(fresh);
  dir_ = next.daemon.hooks_dir;
  timeout_ = next.daemon.hook_timeout;
  return {};
}

void HooksModule::stop() { runner_.reset(); }

}  // namespace uplink
