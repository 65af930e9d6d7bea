#pragma once
// HooksModule ("hooks"): runs the executables of daemon.hooks_dir on every
// link and policy change. It is one more reader of the event bus, like
// `uplinkctl events`: the same LinkEvent and PolicyEvent, in the same order.
// A reload that changes hooks_dir or hook_timeout takes effect at once (hooks
// still running under the old runner are stopped with it).
#include <functional>
#include <memory>
#include <string>

#include "core/module.h"
#include "core/topics.h"
#include "policy/hooks.h"

namespace uplink {

class HooksModule final : public Module {
 public:
  // Makes a runner for a directory and timeout (tests pass a fake).
  using RunnerFactory = std::function<std::unique_ptr<HookRunner>(const std::string& dir, Duration timeout)>;
  HooksModule(ModuleContext& ctx, RunnerFactory factory);
  // ProcessHookRunner on the io_context from ctx.services.
  explicit HooksModule(ModuleContext& ctx);
  ~HooksModule() override;

  std::string_view name() const override { return "hooks"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  const std::string& dir() const { return dir_; }

 private:
  EventBus& bus_;
  RunnerFactory factory_;
  std::unique_ptr<HookRunner> runner_;
  std::string dir_;
  Duration timeout_{};
  uint64_t sub_link_ = 0, sub_policy_ = 0;
};

}  // namespace uplink
